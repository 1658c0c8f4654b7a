"""Live: sample sources (replay of a recording, phone over the network), a numpy ring buffer
and resampler, a streaming classifier, and a session generator that ties them together. Qt-free.

Import from the module that defines a name; this package re-exports nothing. Top to bottom
(a module imports only from those below it; ``lint-imports`` checks the order):

- ``commands``: ``har-studio replay`` and ``har-studio stream``.
- ``session``: ``run_session``, the loop from a source through the classifier.
- ``registry`` (a network source from a kind and an address), ``classifier``, ``recorder``,
  ``qr``.
- the transports: ``replay``, ``udp``, ``server`` (TCP and HTTP on asyncio), ``apps``
  (SensorServer and phyphox, where the phone is the server).
- ``network`` (what every network source shares), ``ring`` (ring buffer, resampler).
- ``frames`` (phone axis and unit conventions).
- ``source`` (``SampleBatch``, ``SourceStats``, the ``Source`` contract), ``addresses``,
  ``protocols`` (parsing what the phone apps send).

Typical use (the Live tab runs ``run_session`` in a ``GeneratorWorker``)::

    source = ReplaySource(dataset, subject=3, speed=2.0, window=bundle.window)
    clf = StreamingClassifier(bundle, hop=8, smoothing="mean")
    for update in run_session(source, clf, control):   # LiveUpdate per poll
        ...  # update.samples (new samples), update.predictions, update.stats
"""

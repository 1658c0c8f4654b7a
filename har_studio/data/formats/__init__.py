"""Reading one data file: decode it, recognise its layout, parse it into typed columns.

One module per format family (``wisdm_raw``, ``wisdm2019``, ``headed_csv``, and the phone apps'
exports: ``sensor_logger``, ``phyphox``, ``hyperimu``, ``physics_toolbox``, ``sensorlog``),
``sniffing`` (text layouts) and ``phone_files`` (phone exports) recognising them; ``text``
(decoding), ``reading`` and ``validate`` (parsing), ``plain_raw`` (the streamed fast path)
and ``common`` (what they share); ``phone`` (what the apps' readers share: their CSV tables,
the conversion report), ``exports`` (a zip's or folder's files, read with a cap) and ``times``
(their clocks). This package re-exports what the loader uses. A new text format is one module
and one line in ``sniffing``; a new phone app, one module and one entry in ``phone_files``.

Phone apps' recordings are described in their modules. Three text layouts of the WISDM kind
are recognised from the content (the file name only adds the sensor and device of WISDM 2019
files):

- WISDM raw records ``subject,activity,timestamp,x,y,z;`` without a header: WISDM v1.1
  (activities named in full) and WISDM 2019 (letter codes, ``data_<id>_<accel|gyro>_<dev>.txt``).
  ``;`` ends a record, so several records may share a physical line.
- A headed CSV naming its columns (any order or case, common aliases), separated by ``,``,
  ``;`` (then decimal commas are accepted), tab or ``|``.
- The same raw records written by a European spreadsheet: ``1;Walking;123;-0,5;9,8;0,1``.

Text may be UTF-8 (BOM or not), UTF-16 (BOM or not) or Latin-1; images, archives and other
binary files are refused. In a headed CSV the timestamp unit (ns, us, ms, s) is inferred from
the median interval, ISO 8601 dates are accepted, subject ids written as text (``u7``) are
numbered, and a missing subject or timestamp column is tolerated (subject 0; 20 Hz assumed),
each with a warning.

Speed: a WISDM raw file in ASCII is streamed from disk to the C parser with ``;`` as its line
terminator (``parse_plain_raw``; the file is never held in memory). Otherwise the whole file
is parsed by one C-engine ``pandas.read_csv`` call on bytes in which
``;`` record ends were turned into newlines (a length-preserving byte replacement, so byte
offsets and hence physical line numbers stay valid). Validation is vectorised; physical line
numbers are computed only for the few skipped records a report shows.
"""

from __future__ import annotations

from .common import (
    BAD_SUBJECT,
    MAX_FILE_BYTES,
    MAX_REPORTED_LINES,
    MISSING_VALUE,
    PLACEHOLDER,
    SNIFF_BYTES,
    TOO_MANY_FIELDS,
    Layout,
    ParsedFile,
    Table,
    one_line,
)
from .headed_csv import ROLE_ALIASES, normalise_header
from .plain_raw import parse_plain_raw
from .reading import parse
from .sniffing import sniff
from .text import read_text_bytes
from .wisdm2019 import WISDM2019_NAME

__all__ = [
    "BAD_SUBJECT", "MAX_FILE_BYTES", "MAX_REPORTED_LINES", "MISSING_VALUE", "PLACEHOLDER",
    "ROLE_ALIASES", "SNIFF_BYTES", "TOO_MANY_FIELDS", "WISDM2019_NAME", "Layout", "ParsedFile",
    "Table", "normalise_header", "one_line", "parse", "parse_plain_raw", "read_text_bytes",
    "sniff",
]

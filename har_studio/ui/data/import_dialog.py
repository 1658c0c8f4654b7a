"""Who was recorded doing what, for phone apps' recordings (which name neither).

``ask_identity`` shows ``IdentityDialog``: a person (an id such as 7 or a name such as Alice:
a name gets a stable number) and an activity for the whole recording, or *Label later* (the
recording loads as not labelled; label its spans on the signal plot). The loader remembers
the answer beside the file (``data/sidecar.py``), so a second opening asks nothing. Tests
patch ``ask_identity``.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ...data.activities import UNLABELLED, WISDM_V11_ACTIVITIES
from ..widgets import form

LABEL_LATER = "Label later (not labelled)"


class IdentityDialog(QDialog):
    """Person and activity for `names` (phone recordings) made with `app`."""

    def __init__(self, names: list[str], app: str, activities: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Who was recorded, doing what?")
        what = names[0] if len(names) == 1 else f"{len(names)} recordings ({', '.join(names[:3])}" \
            + (" …)" if len(names) > 3 else ")")
        intro = QLabel(f"{what} {'is' if len(names) == 1 else 'are'} from {app or 'a phone app'}, "
                       "which records neither the person nor the activity. HAR Studio keeps "
                       "your answer beside the file and will not ask again.")
        intro.setWordWrap(True)
        self.person = QLineEdit()
        self.person.setPlaceholderText("an id such as 7, or a name such as Alice")
        self.activity = QComboBox()
        self.activity.setEditable(True)
        self.activity.addItem(LABEL_LATER, UNLABELLED)
        for name in dict.fromkeys([*activities, *WISDM_V11_ACTIVITIES]):
            if name != UNLABELLED:
                self.activity.addItem(name, name)
        self.activity.setToolTip("The activity of the whole recording; choose “Label later” "
                                 "to mark its spans on the Data tab's plot after opening it")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.person.textChanged.connect(self._on_person_text_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form([("Person", self.person), ("Activity", self.activity)]))
        layout.addWidget(self.buttons)
        self.resize(460, self.sizeHint().height())
        self._on_person_text_changed(self.person.text())

    def _on_person_text_changed(self, text: str) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(bool(text.strip()))

    def values(self) -> tuple[str, str]:
        """(person as typed, activity name or ``UNLABELLED``)."""
        text = self.activity.currentText().strip()
        index = self.activity.findText(text)
        activity = self.activity.itemData(index) if index >= 0 else text
        return self.person.text().strip(), str(activity or UNLABELLED)


def ask_identity(parent: QWidget | None, names: list[str], app: str,
                 activities: list[str]) -> tuple[str, str] | None:
    """Ask who and what for the phone recordings `names`; None when the user cancels."""
    dialog = IdentityDialog(names, app, activities, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.values()

"""The *model* tab of the *GMM Segmentation* dock: save a fitted model, apply a model file."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import Container, FileEdit, PushButton
from napari.utils.notifications import show_error, show_info


def _chosen(path) -> bool:
    return path is not None and str(path) not in ("", ".")


class ModelSection(Container):
    """Fields of the model files: where to save the last model, which model to apply.

    Attributes
    ----------
    model_path, save_button : FileEdit, PushButton
        Save the last fitted model as a JSON model file (:func:`napari_gmm.save_model`).
    apply_path, apply_button : FileEdit, PushButton
        Apply a model file to the selected layer (:func:`napari_gmm.apply_model`).
    """

    def __init__(self):
        super().__init__(labels=True, name="model_section")
        self.model_path = FileEdit(name="model_path", label="save to", mode="w",
                                   filter="*.json")
        self.save_button = PushButton(name="save_button", text="Save model…",
                                      tooltip="Save the last fitted model (JSON).")
        self.apply_path = FileEdit(name="apply_path", label="model file", mode="r",
                                   filter="*.json")
        self.apply_button = PushButton(name="apply_button", text="Apply model…",
                                       tooltip="Label the image with this model: its classes "
                                       "keep their meaning (label k = component k-1).")
        self.extend([self.model_path, self.save_button, self.apply_path, self.apply_button])

    def save(self, segmentation, path=None):
        """Save the model of `segmentation` to `path` (default: the *save to* field).

        Returns the path written, or None (a message says why).
        """
        path = path if path is not None else self.model_path.value
        if segmentation is None:
            show_info("Segment an image first; then its model can be saved.")
            return None
        if not _chosen(path) or Path(path).is_dir():
            show_info("Choose a model file to write first (e.g. model.json).")
            return None
        try:
            written = segmentation.save_model(path)
        except (OSError, ValueError, TypeError) as err:
            show_error(f"Could not save the model to {str(path)!r}: {err}")
            return None
        show_info(f"Saved the model (K={segmentation.n_components}) to {written}.")
        return written

    def model_file(self, path=None) -> Path | None:
        """The model file to apply (`path` or the *model file* field), or None (a message)."""
        path = path if path is not None else self.apply_path.value
        if not _chosen(path) or not Path(path).is_file():
            show_info("Choose an existing model file (.json) to apply first.")
            return None
        return Path(path)

"""The model card of a fine-tuned ML potential (``facetflow finetune``): what it was
trained on, how, and how well it fits. Energies in eV, forces in eV/Å, times in s."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MODEL_CARD_SCHEMA = "facetflow.model_card/1"


class Errors(BaseModel):
    """Errors of a model on a set of frames against their reference (DFT) labels."""

    model_config = ConfigDict(extra="forbid")

    frames: int = Field(description="frames evaluated")
    energy_mae_eV_atom: float = Field(description="mean absolute error of E/N, eV/atom")
    energy_mae_eV: float = Field(description="mean absolute error of the total energy, eV")
    force_mae_eV_A: float = Field(description="mean absolute error of the force components, "
                                  "eV/Å")
    relative_energy_mae_eV_atom: float | None = Field(
        None, description="mean absolute error of E/N, eV/atom, after the least-squares "
        "per-element shift of these frames' residuals: the part of the error that no "
        "composition reference energy removes, which is the part reaction energies see")


class ModelCard(BaseModel):
    """Everything about one fine-tuned model file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field(MODEL_CARD_SCHEMA, alias="schema")
    base_model: str = Field(description="the foundation model fine-tuned (facetflow name)")
    file: str = Field(description="the model file, relative to the card")
    sha256: str = Field(description="sha256 of the model file (enters every calculation hash)")
    data: dict = Field(description="work directories, engines, frames and structure "
                       "families of the training and validation sets")
    composition_shift_eV: dict[str, float] = Field(
        description="per-element energy (eV/atom) added to the model's composition "
        "reference energies so that its absolute scale is the DFT code's (least squares "
        "over the training frames)")
    hyperparameters: dict = Field(description="epochs, patience, learning rate, batch size, "
                                  "loss weights, seed")
    epochs_run: int = Field(description="epochs trained before early stopping")
    best_epoch: int = Field(description="epochs trained by the kept weights, those with the "
                            "lowest validation relative energy MAE (0: no epoch improved "
                            "on the start, the stock weights with the refitted composition "
                            "energies are kept)")
    errors: dict[str, Errors] = Field(description="stock model (raw and with the refitted "
                                      "composition energies) and fine-tuned model, on the "
                                      "training and validation frames")
    wall_time_s: float = Field(description="wall time of the whole fine-tuning, s")
    versions: dict[str, str | None] = Field(description="facetflow, the model package, torch")

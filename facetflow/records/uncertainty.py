"""``summary.json: uncertainty``: where the uncertainty of a study's numbers comes from and
what it is, as pydantic models (made by ``facetflow.analysis.uncertainty``).

Every number derived from energies (chemical potentials, gamma, theta*, gamma*, E_b,
growth rates, anisotropy index, aspect ratio and facet area fractions of the kinetic Wulff
shape, the anisotropy index of every Delta mu row, defect formation energies) has an
entry in ``values``, keyed by its path in summary.json (``facets.100.binding.acetate.Se``,
``growth.cases.with F.rates.111``, ``growth.cases.with F.shape.facet_area_fractions.111``,
``growth_vs_delta_mu.Se.3.cases.with F.anisotropy_index`` with the row's index,
``defects.entries.110_V_S_0.E_f.cation-rich`` with the entry's structure id), with the
mean, standard deviation and 90 % interval of its Monte Carlo samples, in the unit of the
number it describes (eV, meV/Å², ligands per surface cation, or none).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Doc):
    """The spread of one number over the Monte Carlo samples (its own unit)."""

    nominal: float | None = Field(None, description="the value of the summary (no noise)")
    mean: float = Field(description="mean of the samples")
    std: float = Field(description="standard deviation of the samples")
    low: float = Field(description="lower end of the central interval (5th percentile "
                                   "for the 90 % interval)")
    high: float = Field(description="upper end (95th percentile)")
    samples: int = Field(description="samples in which the number could be computed")


class ConfigurationSource(_Doc):
    """Configurations: several starts per structure (``workflow.starts``)."""

    used: bool = Field(description="whether the source entered the samples")
    structures: int = Field(0, description="structures with two or more computed starts")
    lowest_not_start_0: int = Field(0, description="of those, how many had their lowest "
                                                   "energy at a start j > 0")
    p_start_misses: float | None = Field(
        None, description="probability that one start misses the lowest minimum, "
                          "(lowest_not_start_0 + 1) / (structures + 2)")
    p_missed: dict[str, float] = Field(
        default_factory=dict, description="per starts-per-structure k: probability that "
                                          "all k starts missed the lowest minimum, "
                                          "p_start_misses^k")
    gap_eV: float | None = Field(None, description="mean energy by which a missed minimum "
                                                   "lies below the found one (eV): the "
                                                   "mean E(start 0) - E(lowest) where "
                                                   "start 0 was not lowest")
    spread_eV: float | None = Field(None, description="median spread (highest - lowest "
                                                      "start) over the structures (eV)")
    note: str = Field(description="how the source enters, or why it does not")


class ModelSource(_Doc):
    """The model: a committee of ML potentials at the final geometries."""

    used: bool = Field(description="whether the source entered the samples")
    engine_model: str | None = Field(None, description="the model of the final "
                                                       "calculations")
    committee: list[str] = Field(default_factory=list, description="models evaluated as "
                                                                   "single points")
    structures: int = Field(0, description="structures with every committee energy")
    note: str = Field(description="how the source enters, or why it does not")


class CalibrationFamily(_Doc):
    """ML - DFT residuals of the binding energies of one species family."""

    sigma_eV: float = Field(description="root-mean-square ML - DFT residual of E_b (eV)")
    mean_eV: float = Field(description="mean residual (eV; > 0: ML binds less strongly)")
    n: int = Field(description="binding energies compared")


class CalibrationSource(_Doc):
    """Calibration against DFT rows of the same reactions (binding energies)."""

    used: bool = Field(description="whether the source entered the samples")
    against: list[str] = Field(default_factory=list, description="the DFT runs compared "
                                                                 "with (study, engine)")
    families: dict[str, CalibrationFamily] = Field(
        default_factory=dict, description="by family: ligand, additive, growth")
    note: str = Field(description="which calibration was used, or why none")


class Sources(_Doc):
    """The sources of uncertainty and how each was estimated."""

    configurations: ConfigurationSource
    model: ModelSource
    calibration: CalibrationSource
    energies: dict[str, float] = Field(
        default_factory=dict, description="extra independent Gaussian noise per structure "
                                          "id (eV, one standard deviation): given by the "
                                          "caller, e.g. a test's known noise")


class RankingProbability(_Doc):
    """How often each facet grows fastest, and each full order, over the samples."""

    fastest: dict[str, float] = Field(description="facet -> probability it is fastest")
    orders: dict[str, float] = Field(description="'100 > 110 > 111' -> probability")
    samples: int = Field(description="samples with rates for every facet of the case")


class FindingProbability(_Doc):
    """A published finding's probability of agreement over the samples."""

    id: str = Field(description="finding id")
    probability: float | None = Field(description="fraction of samples in which every "
                                                  "check passes; null: not computed")
    verdict: str = Field(description="'robust agreement' (probability >= threshold), "
                                     "'robust disagreement' (<= 1 - threshold), "
                                     "'not robust', or 'not computed'")


class QuantileShape(_Doc):
    """The kinetic Wulff shape with every facet at one quantile of its sampled rate."""

    rates: dict[str, float] = Field(description="facet -> the quantile of its growth "
                                                "rate relative to the nominally fastest "
                                                "facet's in the same sample (that facet: "
                                                "1)")
    aspect_ratio: float | None = Field(description="largest / smallest caliper width; "
                                                   "null: the rates close no shape")
    facet_area_fractions: dict[str, float] = Field(
        description="family (indices written together, as in ``growth.cases.*.shape``) "
                    "-> share of the surface area")


class CaseShapes(_Doc):
    """The shapes of the median and of the ends of the interval of each facet's rate
    (each facet at its own quantile: they bracket the rates, they are not the shape of
    one sample)."""

    median: QuantileShape = Field(description="every facet at its median rate")
    low: QuantileShape = Field(description="every facet at its 5th-percentile rate")
    high: QuantileShape = Field(description="every facet at its 95th-percentile rate")


class DeltaMuRanking(_Doc):
    """Ranking probabilities at one row of ``growth_vs_delta_mu``."""

    delta_mu: float = Field(description="shift of mu (eV)")
    cases: dict[str, RankingProbability] = Field(description="by growth case")


class UncertaintySummary(_Doc):
    """``summary.json: uncertainty``."""

    method: str = Field(description="how the samples were made and propagated")
    samples: int = Field(description="Monte Carlo samples")
    seed: int = Field(description="random seed (the same store gives the same numbers)")
    interval: float = Field(description="probability mass of the reported intervals")
    robust_threshold: float = Field(description="a finding is robust when its probability "
                                                "of agreement is at least this (or at most "
                                                "1 - this for a robust disagreement)")
    sources: Sources = Field(description="where the uncertainty comes from")
    values: dict[str, Interval] = Field(description="by path in summary.json")
    ranking: dict[str, RankingProbability] = Field(description="by growth case")
    findings: list[FindingProbability] = Field(default_factory=list,
                                               description="with analysis.compare_with")
    shape_samples: int = Field(0, description="samples whose kinetic Wulff shape was "
                                              "built (aspect-ratio and area-fraction "
                                              "intervals)")
    shapes: dict[str, CaseShapes] = Field(
        default_factory=dict, description="by growth case: the shapes of the median and "
                                          "the 5 % and 95 % rates (drawn in shapes.png)")
    delta_mu: dict[str, list[DeltaMuRanking]] = Field(
        default_factory=dict, description="per species of ``growth_vs_delta_mu``, per row: "
                                          "the probability that each facet is fastest (the "
                                          "same samples with mu shifted)")

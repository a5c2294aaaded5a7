"""Type stubs of the compiled module (the public API, with its docs, is astrodiff/__init__.py)."""

from os import PathLike
from typing import Any, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str
HAS_TORCH: bool

_Field = npt.NDArray[Union[np.float32, np.float64]]
_Set = Union[_Field, str, PathLike]

def power_spectrum(
    field: _Field, box_size: float, transform: str = "identity"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def histogram(
    field: _Field, edges: Optional[Sequence[float]] = None, bins: int = 40, transform: str = "identity"
) -> dict[str, Any]: ...
def minkowski(
    field: _Field,
    thresholds: Optional[Sequence[float]] = None,
    convention: str = "periodic",
    n_thresholds: int = 25,
    transform: str = "identity",
) -> dict[str, Any]: ...
def compare_json(
    a: _Set,
    b: _Set,
    box_size: float,
    transform: str = "identity",
    edges: Optional[Sequence[float]] = None,
    bins: int = 40,
    thresholds: Optional[Sequence[float]] = None,
    n_thresholds: int = 25,
    mf_convention: str = "periodic",
    label_a: str = "A",
    label_b: str = "B",
    max_pooled_pixels: int = ...,
) -> str: ...
def evaluate_json(
    real: _Set,
    generated: _Set,
    box_size: float,
    transform: str = "identity",
    edges: Optional[Sequence[float]] = None,
    bins: int = 40,
    thresholds: Optional[Sequence[float]] = None,
    n_thresholds: int = 25,
    mf_convention: str = "periodic",
    maps_per_sim: int = 1,
    train_maps: int = 0,
    baseline_splits: int = ...,
    baseline_seed: int = 0,
    null: bool = True,
    null_from: Optional[_Set] = None,
    null_fields: Optional[int] = None,
    null_seed: int = 0,
    label_real: str = "real",
    label_generated: str = "generated",
    max_maps: Optional[int] = None,
    out: Optional[Union[str, PathLike]] = None,
) -> str: ...
def load_maps(path: Union[str, PathLike], max_maps: Optional[int] = None) -> np.ndarray: ...
def read_params(path: Union[str, PathLike]) -> tuple[list[str], np.ndarray]: ...
def simulate(
    n_sims: int,
    seed: int = 0,
    particles: int = 64,
    mesh: int = 128,
    box_size: float = 25.0,
    map_res: int = 256,
    steps: int = 20,
    z_init: float = 19.0,
    slabs: int = 5,
    cloud: Optional[float] = None,
    name: str = "Sim",
    set: str = "LH",
) -> tuple[np.ndarray, np.ndarray, list[int]]: ...

class Run:
    @property
    def source(self) -> str: ...
    @property
    def step(self) -> int: ...
    @property
    def resolution(self) -> Optional[int]: ...
    @property
    def condition(self) -> list[str]: ...
    def sample(
        self,
        n: int = 64,
        sampler: str = "ddim",
        steps: int = 50,
        eta: float = 0.0,
        seed: int = 0,
        batch: int = 16,
        size: Optional[int] = None,
        params: Optional[npt.NDArray[np.float64]] = None,
        keep_out_of_range: bool = False,
        guidance: float = 0.0,
    ) -> npt.NDArray[np.float32]: ...
    def denoise(
        self,
        y: _Field,
        sigma: float,
        samples: int = 16,
        injection: str = "exact",
        sampler: str = "ddpm",
        steps: Optional[int] = None,
        eta: float = 1.0,
        seed: int = 0,
    ) -> dict[str, Any]: ...

def load_run(
    path: Union[str, PathLike], ema: bool = True, device: Optional[str] = None, threads: Optional[int] = None
) -> Run: ...

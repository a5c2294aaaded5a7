//! Figures (plotters): P(k) with bands and ratio panel, pixel PDFs, Minkowski functionals, map grids.

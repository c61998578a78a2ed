return aapmt.experiment{name = }

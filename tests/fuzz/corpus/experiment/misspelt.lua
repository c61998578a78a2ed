return aapmt.experiment{databse = "demo", train = {epochs = 2.5}}

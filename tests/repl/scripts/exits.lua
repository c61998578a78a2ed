os.exit(tonumber(arg[1]))

"""Example evalharness plugin (see pyproject.toml for its entry points). Importing the package registers
nothing: evalharness imports the modules its entry points name, when a suite names them."""

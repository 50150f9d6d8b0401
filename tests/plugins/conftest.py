# The example plugin package is installed by the tests, never collected or imported from the source tree.
collect_ignore = ["evalharness_example_plugin"]

"""`echo`: a target kind (entry point group `evalharness.targets`): a class with `kind` and `start`."""

from __future__ import annotations


class EchoTarget:
    """Calls no model, like the built-in `recorded` kind (scores the cases' recorded outputs)."""

    kind = "echo"

    def start(self, config, launcher):
        from evalharness.targets.kinds import Endpoint

        return Endpoint(None, None)

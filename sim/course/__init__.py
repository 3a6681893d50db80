"""Course helpers built on the simulator: the decision framework, durability, widgets."""

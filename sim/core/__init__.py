"""The simulator's machinery: scenarios, workload, faults, the engine, history, sweeps."""

"""edgebench's bench side: runner, records, orchestration, gate. Never imports TensorFlow."""

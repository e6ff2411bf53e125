# bench/: benchmark programs (added to OC_BENCHES by the fragment of the code they measure)

"""Tag transfer from the nearest catalogue products: the IDW vote, its scores blended with
the hybrid's heads, their calibration and the review rule, and the pipeline that runs a
query through them (with the pixel attributes) one photo or a batch at a time."""

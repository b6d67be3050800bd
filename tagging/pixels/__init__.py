"""What the pixels of one photo say on their own: colour (K-Means palette over the
foreground), shape (OpenCV contours) and printed text (EasyOCR)."""

"""Tags from a listing's words: a text model per family fitted on the catalogue's titles,
and its fusion with what the photo says, learned on the catalogue."""

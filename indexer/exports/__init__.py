"""Tags back out: what the catalogue holds (the merchant's tags and the ones a person
accepted in the review inbox) written in the shape a platform imports
(``shapes``), every text cell protected against spreadsheet formulas (``cells``)."""

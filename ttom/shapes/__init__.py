"""The synthetic shapes world of the bundled shapes model (see ``ttom.shapes.world``)."""

"""The recipe shape: :class:`~hubtools.recipe.base.Recipe` (the stage sequence and the steps a family
overrides) and the shared command line (:func:`~hubtools.recipe.cli.recipe_main`)."""

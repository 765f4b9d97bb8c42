"""The SpanMarker family: span classification over marker pairs (span_marker), its ONNX export and runtime.

Modules: ``options`` (the ``options`` section), ``model`` (build, load and save models that reload offline and
from the Hub), ``features`` (the splits, sentences read alone), ``trainer`` (validation scored on words),
``decode`` (predicted spans as word tags, the decoder of ``hubtools evaluate`` / ``predict``), ``recipe``
(:class:`~hubtools.families.span_marker.recipe.SpanMarkerRecipe`), ``onnx_export`` / ``onnx_runtime`` /
``onnx_verify`` (the ONNX graph, a runner with ``predict`` parity, comparisons), ``export`` (the family's exporter)
and ``reference`` (where a saved model finds its encoder; JSON only, light enough for ``hubtools push``). Nothing is
imported here, so ``push`` does not load span_marker.
"""

"""Attribution maps of models of one-hot sequences: the gradient methods and their registry
(:data:`METHODS`), the points where their gradients are averaged, and map files of any tool."""

from simplexgrad._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "methods": [
            "METHODS",
            "method_options",
            "saliency",
            "integrated_gradients",
            "smoothgrad",
            "expected_gradients",
            "shuffled_references",
            "attribute_file",
            "attribute_methods_file",
            "QUERY_BLOCK",
        ],
        "maps": ["HDF5_SUFFIXES", "read_array", "write_array_like", "to_nla", "correct_file", "write_tsv"],
    },
)

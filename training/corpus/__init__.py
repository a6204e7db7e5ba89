"""The labelled seed corpus: parsing, labels and loading as Hugging Face datasets."""

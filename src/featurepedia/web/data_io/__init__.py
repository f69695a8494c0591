"""Data in and out: export a source's or campaign's human data and scores (Parquet, a Hugging Face
``datasets`` folder, a data card), and import other systems' public feature data (Neuronpedia's dataset
exports, OpenAI's neuron-explainer records) into the catalog."""

using System.Security.Cryptography;
using Nexus.Model.Tokenization;

namespace Nexus.Training.Data;

/// <summary>The tokenizer a dataset is made with, and its description for the manifest.</summary>
public static class DatasetTokenizers
{
    /// <summary>The byte tokenizer, or the tokenizer stored in <paramref name="modelDirectory"/> (tokenizer.json or nexus_tokenizer.json).</summary>
    public static (ITextTokenizer Tokenizer, DatasetTokenizer Info) Load(string? modelDirectory)
    {
        var tokenizer = modelDirectory is null ? new ByteTokenizer() : TokenizerFiles.Load(modelDirectory);
        var file = modelDirectory is null ? null : Path.Combine(modelDirectory, HuggingFaceTokenizer.FileName);
        var huggingFace = file is not null && File.Exists(file);
        return (tokenizer, new DatasetTokenizer
        {
            Type = huggingFace ? "huggingface" : "byte",
            VocabSize = tokenizer.VocabSize,
            EosId = tokenizer.EosId,
            Sha256 = huggingFace ? Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file!))) : null,
        });
    }

    /// <summary>
    /// Fails unless <paramref name="tokenizer"/> (the model's) makes the same ids as the dataset's tokenizer,
    /// as far as can be told: same kind, vocabulary size and EOS id.
    /// </summary>
    public static void CheckMatches(DatasetTokenizer dataset, ITextTokenizer tokenizer, string datasetDirectory)
    {
        var type = tokenizer is ByteTokenizer ? "byte" : "huggingface";
        if (dataset.Type != type || dataset.VocabSize != tokenizer.VocabSize || dataset.EosId != tokenizer.EosId)
            throw new ArgumentException(
                $"Dataset {datasetDirectory} was tokenised with a {dataset.Type} tokenizer (vocabulary {dataset.VocabSize}, EOS {dataset.EosId?.ToString() ?? "none"}), " +
                $"but the model uses a {type} one (vocabulary {tokenizer.VocabSize}, EOS {tokenizer.EosId?.ToString() ?? "none"}); " +
                $"prepare the data for this model with `nexus data prepare --tokenizer MODEL_DIR`.");
    }
}

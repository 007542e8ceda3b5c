using System.Text.Json;

namespace Nexus.Model.Tokenization;

/// <summary>Finds and loads the tokenizer stored in a model directory.</summary>
public static class TokenizerFiles
{
    /// <summary>Written by our own trainer for models that use <see cref="ByteTokenizer"/>: <c>{"type":"byte"}</c>.</summary>
    public const string NexusFileName = "nexus_tokenizer.json";

    private const string ByteType = "byte";

    /// <summary>
    /// Loads <c>tokenizer.json</c> (Hugging Face) when the directory has one, else <c>nexus_tokenizer.json</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither file exists.</exception>
    public static ITextTokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        var huggingFacePath = Path.Combine(modelDirectory, HuggingFaceTokenizer.FileName);
        if (File.Exists(huggingFacePath)) return HuggingFaceTokenizer.Load(huggingFacePath);

        var nexusPath = Path.Combine(modelDirectory, NexusFileName);
        if (!File.Exists(nexusPath))
            throw new FileNotFoundException(
                $"No tokenizer in '{Path.GetFullPath(modelDirectory)}': looked for {HuggingFaceTokenizer.FileName} and {NexusFileName}.",
                huggingFacePath);

        using var document = JsonFile.Parse(nexusPath);
        var type = JsonFile.OptionalString(document.RootElement, "type", nexusPath, "$")
            ?? throw JsonFile.Invalid(nexusPath, "$.type", "must be a string", JsonFile.Optional(document.RootElement, "type"));
        return type switch
        {
            ByteType => new ByteTokenizer(),
            _ => throw new NotSupportedException($"{nexusPath}: $.type is '{type}'; supported types: {ByteType}."),
        };
    }

    /// <summary>Records in <paramref name="modelDirectory"/> (created if needed) that the model uses <see cref="ByteTokenizer"/>.</summary>
    public static void SaveByte(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        Directory.CreateDirectory(modelDirectory);
        File.WriteAllText(Path.Combine(modelDirectory, NexusFileName), JsonSerializer.Serialize(new { type = ByteType }) + "\n");
    }

    /// <summary>Tokenizer files a model directory may hold, copied as they are.</summary>
    public static IReadOnlyList<string> KnownFiles { get; } =
        [HuggingFaceTokenizer.FileName, HuggingFaceTokenizer.ConfigFileName, NexusFileName, "special_tokens_map.json"];

    /// <summary>Copies the tokenizer of one model directory into another (for a model trained from it).</summary>
    public static void CopyTo(string sourceDirectory, string targetDirectory)
    {
        Load(sourceDirectory); // fails clearly when there is nothing to copy
        Directory.CreateDirectory(targetDirectory);
        foreach (var name in KnownFiles)
        {
            var source = Path.Combine(sourceDirectory, name);
            if (File.Exists(source)) File.Copy(source, Path.Combine(targetDirectory, name), overwrite: true);
        }
    }
}

using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Nexus.Model;

namespace Nexus.Training.Data;

[JsonConverter(typeof(JsonStringEnumConverter<DataSplit>))]
public enum DataSplit
{
    [JsonStringEnumMemberName("train")] Train,
    [JsonStringEnumMemberName("validation")] Validation,
}

/// <summary>One shard file: its path (relative to the dataset folder, '/'-separated), split, size and checksum.</summary>
public sealed record ShardInfo
{
    [JsonPropertyName("path")] public required string Path { get; init; }
    [JsonPropertyName("split")] public required DataSplit Split { get; init; }
    [JsonPropertyName("tokens")] public required long Tokens { get; init; }
    [JsonPropertyName("documents")] public required int Documents { get; init; }
    [JsonPropertyName("dtype")] public required TokenDtype Dtype { get; init; }
    [JsonPropertyName("bytes")] public required long Bytes { get; init; }
    [JsonPropertyName("sha256")] public required string Sha256 { get; init; }
}

/// <summary>The tokenizer the shards were made with; a model must use the same one to train on them.</summary>
public sealed record DatasetTokenizer
{
    /// <summary><c>byte</c> (the built-in byte tokenizer) or <c>huggingface</c> (a tokenizer.json).</summary>
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("vocabSize")] public required int VocabSize { get; init; }
    /// <summary>The id that ends every document in the shards (null: the tokenizer has none, documents are simply concatenated).</summary>
    [JsonPropertyName("eosId")] public int? EosId { get; init; }
    /// <summary>SHA-256 of the tokenizer file, for a huggingface tokenizer.</summary>
    [JsonPropertyName("sha256")] public string? Sha256 { get; init; }
}

/// <summary>The settings a dataset was prepared with (the same settings and sources give the same bytes).</summary>
public sealed record DatasetSettings
{
    [JsonPropertyName("maxTokensPerDomain")] public required long MaxTokensPerDomain { get; init; }
    [JsonPropertyName("validationFraction")] public required double ValidationFraction { get; init; }
    [JsonPropertyName("shardTokens")] public required long ShardTokens { get; init; }
    [JsonPropertyName("minDocumentChars")] public required int MinDocumentChars { get; init; }
    [JsonPropertyName("maxDocumentChars")] public required int MaxDocumentChars { get; init; }
}

/// <summary>A source package as used: pinned version and integrity, the tarball's SHA-256, and the licence its package.json states.</summary>
public sealed record DatasetSource
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("version")] public required string Version { get; init; }
    [JsonPropertyName("integrity")] public required string Integrity { get; init; }
    [JsonPropertyName("sha256")] public required string Sha256 { get; init; }
    [JsonPropertyName("license")] public string? License { get; init; }
}

/// <summary>One domain: what it is, what was done to its documents, and its shards.</summary>
public sealed record DatasetDomain
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("role")] public required DomainRole Role { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    /// <summary>"package@version: what was taken", one per source.</summary>
    [JsonPropertyName("sources")] public required IReadOnlyList<string> Sources { get; init; }
    /// <summary>Documents the sources yielded, before cleaning.</summary>
    [JsonPropertyName("documentsRead")] public required int DocumentsRead { get; init; }
    /// <summary>Documents dropped for being shorter than minDocumentChars after cleaning.</summary>
    [JsonPropertyName("tooShort")] public required int TooShort { get; init; }
    /// <summary>Exact duplicates dropped (of a document earlier in this domain or in an earlier domain).</summary>
    [JsonPropertyName("duplicates")] public required int Duplicates { get; init; }
    /// <summary>Documents cut to maxDocumentChars.</summary>
    [JsonPropertyName("truncated")] public required int Truncated { get; init; }
    /// <summary>Unique documents left out because the domain reached maxTokensPerDomain.</summary>
    [JsonPropertyName("leftOutByCap")] public required int LeftOutByCap { get; init; }
    /// <summary>Documents moved to validation past the hash threshold because it held under half its share of tokens (usually 0).</summary>
    [JsonPropertyName("movedToValidation")] public required int MovedToValidation { get; init; }
    [JsonPropertyName("trainDocuments")] public required int TrainDocuments { get; init; }
    [JsonPropertyName("validationDocuments")] public required int ValidationDocuments { get; init; }
    [JsonPropertyName("trainTokens")] public required long TrainTokens { get; init; }
    [JsonPropertyName("validationTokens")] public required long ValidationTokens { get; init; }
    [JsonPropertyName("shards")] public required IReadOnlyList<ShardInfo> Shards { get; init; }
}

/// <summary>
/// <c>manifest.json</c> of a prepared dataset. It is written last and atomically, so a folder with a manifest
/// is complete, and every shard it lists carries its size and SHA-256, so a damaged shard is caught on load.
/// </summary>
public sealed record DatasetManifest
{
    public const string FormatName = "nexus.dataset/v1";
    public const string FileName = "manifest.json";
    /// <summary>Written first by <c>nexus data prepare</c>: the folder is a dataset (complete only once the manifest is there).</summary>
    public const string MarkerFileName = ".nexus-dataset";

    // Relaxed escaping keeps integrity strings ('+') and descriptions ('–') readable; the file is never embedded in HTML.
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [JsonPropertyName("format")] public string Format { get; init; } = FormatName;
    [JsonPropertyName("createdBy")] public string CreatedBy { get; init; } = "nexus data prepare";
    [JsonPropertyName("tokenizer")] public required DatasetTokenizer Tokenizer { get; init; }
    [JsonPropertyName("settings")] public required DatasetSettings Settings { get; init; }
    [JsonPropertyName("sources")] public required IReadOnlyList<DatasetSource> Sources { get; init; }
    [JsonPropertyName("domains")] public required IReadOnlyList<DatasetDomain> Domains { get; init; }

    public static string PathIn(string datasetDirectory) => System.IO.Path.Combine(datasetDirectory, FileName);

    /// <summary>Whether the folder holds a complete prepared dataset (its manifest).</summary>
    public static bool Exists(string datasetDirectory) => File.Exists(PathIn(datasetDirectory));

    public void Save(string datasetDirectory) => AtomicFile.WriteAllText(PathIn(datasetDirectory), JsonSerializer.Serialize(this, Json) + "\n");

    public DatasetDomain Domain(string name, string datasetDirectory) =>
        Domains.FirstOrDefault(d => d.Name == name)
        ?? throw new ArgumentException(
            $"Dataset {datasetDirectory} has no domain '{name}'; its domains are {string.Join(", ", Domains.Select(d => d.Name))}. " +
            $"To use one of them under another name, pass NAME={System.IO.Path.Combine(datasetDirectory, "DOMAIN")}.");

    /// <summary>Reads and checks a dataset's manifest; every failure names the file and says how to make a good one.</summary>
    public static DatasetManifest Load(string datasetDirectory)
    {
        var path = PathIn(datasetDirectory);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"{datasetDirectory} holds no {FileName}, so it is not a complete prepared dataset; run `nexus data prepare --out {datasetDirectory}`.", path);
        DatasetManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<DatasetManifest>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a dataset manifest ({e.Message}); re-run `nexus data prepare --out {datasetDirectory}`.", e);
        }
        if (manifest is null) throw new InvalidDataException($"{path} is empty; re-run `nexus data prepare --out {datasetDirectory}`.");
        if (manifest.Format != FormatName)
            throw new InvalidDataException($"{path}: format is '{manifest.Format}'; expected '{FormatName}'.");
        foreach (var shard in manifest.Domains.SelectMany(d => d.Shards))
            if (shard.Path.Split('/').Any(part => part is "" or "." or ".."))
                throw new InvalidDataException($"{path}: shard path '{shard.Path}' must be a plain relative path inside the dataset.");
        return manifest;
    }
}

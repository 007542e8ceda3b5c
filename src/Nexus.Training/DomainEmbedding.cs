using System.Text.Json;
using System.Text.Json.Serialization;
using Nexus.Model;

namespace Nexus.Training;

/// <summary>
/// A domain's embedding d: the vector the Nexus router projects into an expert embedding. Stored as a
/// small JSON file (<c>nexus embed</c> writes it; a user may write one by hand from any embedding model).
/// </summary>
public sealed record DomainEmbedding
{
    public const string FormatName = "nexus.domain-embedding/v1";

    [JsonPropertyName("format")] public string Format { get; init; } = FormatName;
    /// <summary>The domain (and its expert's) name.</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary>Where the vector came from: the seed model folder, or what the user says.</summary>
    [JsonPropertyName("source")] public string? Source { get; init; }
    /// <summary>Tokens the mean was taken over (0 for user-supplied vectors).</summary>
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
    [JsonPropertyName("vector")] public required float[] Vector { get; init; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    /// <summary>Reads and checks a domain-embedding file; every failure names the file and the field.</summary>
    public static DomainEmbedding Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Domain embedding '{path}' does not exist (run `nexus embed` to make one).", path);
        DomainEmbedding? embedding;
        try
        {
            embedding = JsonSerializer.Deserialize<DomainEmbedding>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a domain-embedding file: {e.Message}", e);
        }
        if (embedding is null) throw new InvalidDataException($"{path} is empty.");
        if (embedding.Format != FormatName)
            throw new InvalidDataException($"{path}: format is '{embedding.Format}'; expected '{FormatName}'.");
        if (string.IsNullOrWhiteSpace(embedding.Name)) throw new InvalidDataException($"{path}: name must not be empty.");
        if (embedding.Vector.Length == 0) throw new InvalidDataException($"{path}: vector is empty.");
        var bad = Array.FindIndex(embedding.Vector, v => !float.IsFinite(v));
        if (bad >= 0) throw new InvalidDataException($"{path}: vector[{bad}] is {embedding.Vector[bad]}; every entry must be a finite number.");
        return embedding;
    }
}

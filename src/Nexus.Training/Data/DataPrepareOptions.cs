namespace Nexus.Training.Data;

/// <summary>Settings of <c>nexus data prepare</c>, with their defaults and checks in one place.</summary>
public sealed record DataPrepareOptions
{
    /// <summary>The dataset folder: manifest.json and DOMAIN/SPLIT-NNNNN.bin shards.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>Where source tarballs are kept between runs (CACHE/npm/*.tgz).</summary>
    public string CacheDirectory { get; init; } = ".cache";
    /// <summary>Domains to build, by name; null: every domain of the catalog.</summary>
    public IReadOnlyList<string>? Domains { get; init; }
    /// <summary>Most tokens (train and validation together, EOS included) a domain keeps; 0: no cap.</summary>
    public long MaxTokensPerDomain { get; init; } = 2_000_000;
    /// <summary>Share of documents held out for validation, decided per document from its content hash.</summary>
    public double ValidationFraction { get; init; } = 0.05;
    /// <summary>Most tokens in one shard file (a longer document gets a shard of its own).</summary>
    public long ShardTokens { get; init; } = 1_048_576;
    /// <summary>Documents shorter than this after cleaning, in characters, are dropped.</summary>
    public int MinDocumentChars { get; init; } = 200;
    /// <summary>Documents longer than this, in characters, are cut at a line or sentence end.</summary>
    public int MaxDocumentChars { get; init; } = 100_000;
    /// <summary>Use only the cache: a source that is not there (with the pinned integrity) is an error, not a fetch.</summary>
    public bool Offline { get; init; }

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("--out must name a folder.");
        if (string.IsNullOrWhiteSpace(CacheDirectory)) throw new ArgumentException("--cache must name a folder.");
        if (MaxTokensPerDomain < 0) throw new ArgumentException($"--max-tokens-per-domain must be ≥ 0 (0: no cap), got {MaxTokensPerDomain}.");
        if (ValidationFraction is <= 0 or >= 1 || double.IsNaN(ValidationFraction))
            throw new ArgumentException($"--val-fraction must be in (0, 1), got {ValidationFraction}.");
        if (ShardTokens < 1024) throw new ArgumentException($"--shard-tokens must be at least 1024, got {ShardTokens}.");
        if (MinDocumentChars < 1) throw new ArgumentException($"The minimum document length must be at least 1 character, got {MinDocumentChars}.");
        if (MaxDocumentChars < MinDocumentChars)
            throw new ArgumentException($"The maximum document length ({MaxDocumentChars}) is below the minimum ({MinDocumentChars}).");
        if (Domains is { Count: 0 }) throw new ArgumentException("--domains names no domain.");
    }
}

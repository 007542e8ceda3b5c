using Nexus.Model.Tokenization;

namespace Nexus.Training.Data;

/// <summary>
/// Token corpora from a prepared dataset (see <see cref="DatasetPreparer"/>): one domain's train and
/// validation shards, every shard checked against the manifest's size and SHA-256 as it is read.
/// </summary>
public static class ShardedCorpus
{
    /// <summary>One domain's corpus. <paramref name="tokenizer"/> is the model's; it must be the one the data was made with.</summary>
    public static TokenCorpus LoadDomain(string datasetDirectory, string domain, ITextTokenizer tokenizer)
    {
        var manifest = DatasetManifest.Load(datasetDirectory);
        DatasetTokenizers.CheckMatches(manifest.Tokenizer, tokenizer, datasetDirectory);
        return Load(datasetDirectory, [manifest.Domain(domain, datasetDirectory)]);
    }

    /// <summary>The domains that start the mix (role initial), train and validation each concatenated in manifest order.</summary>
    public static TokenCorpus LoadInitialDomains(string datasetDirectory, ITextTokenizer tokenizer)
    {
        var manifest = DatasetManifest.Load(datasetDirectory);
        DatasetTokenizers.CheckMatches(manifest.Tokenizer, tokenizer, datasetDirectory);
        return Load(datasetDirectory, manifest.Domains.Where(d => d.Role == DomainRole.Initial).ToList());
    }

    private static TokenCorpus Load(string datasetDirectory, IReadOnlyList<DatasetDomain> domains)
    {
        var shards = domains.SelectMany(d => d.Shards).ToList();
        int[] Concat(DataSplit split) => shards.Where(s => s.Split == split).SelectMany(s => ShardReader.Read(datasetDirectory, s)).ToArray();
        return new TokenCorpus(Concat(DataSplit.Train), Concat(DataSplit.Validation),
            shards.Select(s => Path.GetFullPath(Path.Combine(datasetDirectory, s.Path))).ToList());
    }

    /// <summary>
    /// Reads training data given as paths when they name prepared data: a dataset folder (holding manifest.json)
    /// gives the domain <paramref name="domain"/>, or all initial domains when that is null; a domain's folder
    /// inside a dataset (<c>DATASET/news</c>) gives that domain. Returns null when no path is prepared data
    /// (they are text files, for <see cref="TokenCorpus.FromFiles"/>); mixing the two kinds is an error.
    /// </summary>
    public static TokenCorpus? TryLoad(IReadOnlyList<string> paths, ITextTokenizer tokenizer, string? domain)
    {
        var resolved = paths.Select(p => (Path: p, Prepared: Resolve(p))).ToList();
        if (resolved.All(r => r.Prepared is null)) return null;
        var text = resolved.FirstOrDefault(r => r.Prepared is null);
        if (text.Path is not null)
            throw new ArgumentException($"'{text.Path}' is text but '{resolved.First(r => r.Prepared is not null).Path}' is a prepared dataset; give one kind of data per domain.");
        var corpora = resolved.Select(r => r.Prepared!.Value switch
        {
            (var dataset, null) when domain is null => LoadInitialDomains(dataset, tokenizer),
            (var dataset, null) => LoadDomain(dataset, domain!, tokenizer),
            (var dataset, var folderDomain) => LoadDomain(dataset, folderDomain, tokenizer),
        }).ToList();
        return corpora.Count == 1 ? corpora[0]
            : new TokenCorpus([.. corpora.SelectMany(c => c.Train)], [.. corpora.SelectMany(c => c.Validation)], [.. corpora.SelectMany(c => c.Sources)]);
    }

    /// <summary>A complete dataset, or one being written (or left half-written by a crash), whose load then fails clearly.</summary>
    private static bool IsDataset(string directory) =>
        DatasetManifest.Exists(directory) || File.Exists(Path.Combine(directory, DatasetManifest.MarkerFileName));

    /// <summary>(dataset folder, domain or null) when the path is a dataset or one of its domain folders; null for anything else.</summary>
    private static (string Dataset, string? Domain)? Resolve(string path)
    {
        if (!Directory.Exists(path))
        {
            var parent = Path.GetDirectoryName(Path.GetFullPath(path));
            var grandparent = parent is null ? null : Path.GetDirectoryName(parent);
            if (File.Exists(path) && path.EndsWith(".bin", StringComparison.Ordinal) && grandparent is not null && DatasetManifest.Exists(grandparent))
                throw new ArgumentException($"'{path}' is one shard of the prepared dataset {grandparent}; pass the dataset folder or a domain's folder instead.");
            return null;
        }
        var full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        if (IsDataset(full)) return (full, null);
        var datasetDirectory = Path.GetDirectoryName(full);
        if (datasetDirectory is not null && IsDataset(datasetDirectory)) return (datasetDirectory, Path.GetFileName(full));
        return null;
    }
}

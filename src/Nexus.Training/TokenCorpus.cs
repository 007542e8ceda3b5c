using Nexus.Model.Tokenization;
using Nexus.Training.Data;

namespace Nexus.Training;

/// <summary>
/// Token streams for training and validation. Each source file is tokenised on its own and its last
/// <c>validationFraction</c> of tokens is held out, so no training window can overlap a validation one.
/// Files are separated by EOS. Everything is a pure function of the inputs: same files, same tokens.
/// </summary>
public sealed class TokenCorpus
{
    public TokenCorpus(int[] train, int[] validation, IReadOnlyList<string> sources)
    {
        Train = train;
        Validation = validation;
        Sources = sources;
    }

    public int[] Train { get; }
    public int[] Validation { get; }
    public IReadOnlyList<string> Sources { get; }

    /// <summary>Text files under the given files or folders (recursively, sorted by path).</summary>
    public static IReadOnlyList<string> ResolveFiles(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path)) files.Add(Path.GetFullPath(path));
            else if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => !Path.GetFileName(f).StartsWith('.'))
                    .Select(Path.GetFullPath)
                    .Order(StringComparer.Ordinal));
            else throw new FileNotFoundException($"Training data '{path}' does not exist (expected a text file or a folder of them).", path);
        }
        if (files.Count == 0) throw new ArgumentException("No training data files found in: " + string.Join(", ", paths));
        return files;
    }

    /// <summary>
    /// Text files or folders of them; or prepared data (<c>nexus data prepare</c>): a dataset folder, whose domain
    /// <paramref name="domain"/> (all initial domains when null) is read from its shards with their own split,
    /// or a domain's folder inside one. <paramref name="validationFraction"/> applies to text only.
    /// </summary>
    public static TokenCorpus FromFiles(IEnumerable<string> paths, ITextTokenizer tokenizer, double validationFraction, string? domain = null)
    {
        var given = paths.ToList();
        if (ShardedCorpus.TryLoad(given, tokenizer, domain) is { } prepared) return prepared;
        if (validationFraction is <= 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"Validation fraction must be in (0, 1), got {validationFraction}.");
        var files = ResolveFiles(given);
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var file in files)
        {
            var tokens = tokenizer.Encode(File.ReadAllText(file));
            var held = (int)Math.Ceiling(tokens.Length * validationFraction);
            AppendDocument(train, tokens.AsSpan(0, tokens.Length - held), tokenizer.EosId);
            AppendDocument(validation, tokens.AsSpan(tokens.Length - held), tokenizer.EosId);
        }
        return new TokenCorpus([.. train], [.. validation], files);
    }

    private static void AppendDocument(List<int> stream, ReadOnlySpan<int> tokens, int? eos)
    {
        if (tokens.IsEmpty) return;
        stream.AddRange(tokens);
        if (eos is { } id) stream.Add(id);
    }
}

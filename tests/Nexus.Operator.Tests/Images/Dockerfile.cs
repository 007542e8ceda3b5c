using System.Text.Json;

namespace Nexus.Operator.Tests.Images;

/// <summary>One instruction of a Dockerfile: its keyword (upper case) and its arguments, continuation lines joined.</summary>
internal sealed record DockerInstruction(string Keyword, string Arguments, int Line);

/// <summary>A Dockerfile read just far enough to check what the images promise: instructions grouped by stage (FROM
/// starts one), comments and line continuations handled. Not a full parser: no escape directive, no heredocs.</summary>
internal sealed class Dockerfile
{
    private Dockerfile(string path, IReadOnlyList<DockerInstruction> prologue, IReadOnlyList<IReadOnlyList<DockerInstruction>> stages)
    {
        Path = path;
        Prologue = prologue;
        Stages = stages;
    }

    public string Path { get; }

    /// <summary>Instructions before the first FROM: the global ARGs the FROM lines may use.</summary>
    public IReadOnlyList<DockerInstruction> Prologue { get; }

    public IReadOnlyList<IReadOnlyList<DockerInstruction>> Stages { get; }

    public IReadOnlyList<DockerInstruction> FinalStage => Stages[^1];

    public IEnumerable<DockerInstruction> All => Prologue.Concat(Stages.SelectMany(stage => stage));

    public static Dockerfile Load(string path)
    {
        var prologue = new List<DockerInstruction>();
        var stages = new List<List<DockerInstruction>>();
        var pending = "";
        var start = 0;
        var lines = File.ReadAllLines(path);
        for (var index = 0; index < lines.Length; index++)
        {
            var line = lines[index].Trim();
            if (line.StartsWith('#') || (line.Length == 0 && pending.Length == 0))
                continue;
            if (pending.Length == 0)
                start = index + 1;
            var continued = line.EndsWith('\\');
            pending += (continued ? line[..^1] : line) + " ";
            if (continued)
                continue;

            var text = pending.Trim();
            pending = "";
            var space = text.IndexOf(' ');
            var instruction = new DockerInstruction(
                (space < 0 ? text : text[..space]).ToUpperInvariant(), space < 0 ? "" : text[(space + 1)..].Trim(), start);
            if (instruction.Keyword == "FROM")
                stages.Add([]);
            (stages.Count > 0 ? stages[^1] : prologue).Add(instruction);
        }
        Assert.True(stages.Count > 0, $"{path} has no FROM.");
        return new Dockerfile(path, prologue, stages);
    }

    /// <summary>The last ENTRYPOINT of the final stage, which must be in exec form (the images have no shell).</summary>
    public string[] Entrypoint()
    {
        var entrypoint = FinalStage.LastOrDefault(i => i.Keyword == "ENTRYPOINT")
            ?? throw new Xunit.Sdk.XunitException($"{Path}: the final stage has no ENTRYPOINT.");
        Assert.True(entrypoint.Arguments.StartsWith('['),
            $"{Path}:{entrypoint.Line}: ENTRYPOINT must be in exec form (JSON array); the image has no shell to run it.");
        return JsonSerializer.Deserialize<string[]>(entrypoint.Arguments)!;
    }

    /// <summary>The last USER of the final stage: the user the image runs as.</summary>
    public string User() =>
        (FinalStage.LastOrDefault(i => i.Keyword == "USER")
            ?? throw new Xunit.Sdk.XunitException($"{Path}: the final stage has no USER, so it runs as root.")).Arguments;

    /// <summary>Arguments of RUN instructions split into words, for each word following <paramref name="command"/>
    /// (e.g. "dotnet publish") the first argument after it.</summary>
    public IEnumerable<(string Target, DockerInstruction Run)> CommandTargets(string command) =>
        from run in All.Where(i => i.Keyword == "RUN")
        let words = run.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)
        let commandWords = command.Split(' ')
        from index in Enumerable.Range(0, Math.Max(0, words.Length - commandWords.Length))
        where words.Skip(index).Take(commandWords.Length).SequenceEqual(commandWords)
        select (words[index + commandWords.Length], run);

    /// <summary>The local sources of COPY instructions (those without --from), relative to the build context.</summary>
    public IEnumerable<(string Source, DockerInstruction Copy)> LocalCopySources() =>
        from copy in All.Where(i => i.Keyword == "COPY")
        let words = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)
        where !words.Any(w => w.StartsWith("--from", StringComparison.Ordinal))
        let paths = words.Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToArray()
        from source in paths[..^1]
        select (source, copy);
}

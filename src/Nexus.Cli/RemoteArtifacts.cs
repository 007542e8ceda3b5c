using Nexus.Storage;

namespace Nexus.Cli;

/// <summary>
/// Lets every `nexus` step take <c>s3://</c> and <c>file://</c> locations wherever it takes a path, without the steps
/// knowing. Before the command runs, each such value is rewritten to a local path: a remote input is fetched, verified,
/// into a cache (and reused while its publish is current); a remote output (<c>--out</c>, <c>--finetune-out</c>,
/// <c>--plots</c>) is written to a local staging folder and published when the command succeeds, and also at every
/// training checkpoint, so that <c>--resume</c> continues from the last published one. A location that names a file
/// (an embedding, a report) is an artifact holding that one file.
/// </summary>
/// <remarks>
/// <c>file://</c> is an artifact store like <c>s3://</c> (a folder with <c>manifest.json</c> and <c>data/PUBLISH/</c>,
/// <see cref="FileArtifactStore"/>), so a step's result in a local artifact root reads as it would in a bucket. A
/// <c>file://</c> input that no published artifact holds (a folder of text written by hand) is that folder itself;
/// plain paths are never rewritten.
/// </remarks>
public sealed class RemoteArtifacts : IDisposable
{
    private static readonly HashSet<string> OutputOptions = ["--out", "--finetune-out", "--plots"];
    // Options whose values are text, never locations (a prompt may well start with s3://).
    private static readonly HashSet<string> TextOptions = ["--prompt", "--name", "--mix", "--router", "--format", "--model-size", "--dtype"];
    // Inputs a command fetches itself once it is up, through FetchInputAsync: nexus serve answers /healthz (and /readyz
    // "loading") while its model downloads, and a SIGTERM then cancels the download.
    private static readonly Dictionary<string, HashSet<string>> FetchedByCommand = new() { ["serve"] = ["--model"] };
    private readonly HashSet<string> deferred;
    private readonly List<(string Local, ArtifactLocation Remote)> outputs = [];
    // One store per location for the whole command line: an S3 store holds an HTTP client.
    private readonly Dictionary<ArtifactLocation, IArtifactStore> stores = [];
    // Local path → the location it stands for, for steps that record where their inputs came from.
    private readonly Dictionary<string, string> locations = [];
    private readonly string cache = DefaultCache;
    private S3Settings? settings;

    private RemoteArtifacts(HashSet<string> deferred) => this.deferred = deferred;

    /// <summary>The command line being run, for steps that publish as they go (training checkpoints).</summary>
    public static RemoteArtifacts? Current { get; private set; }

    /// <summary>NEXUS_ARTIFACT_CACHE, default .cache/artifacts: where remote inputs are fetched and outputs staged.</summary>
    public static string DefaultCache => Environment.GetEnvironmentVariable("NEXUS_ARTIFACT_CACHE") is { Length: > 0 } path ? path : Path.Combine(".cache", "artifacts");

    /// <summary>
    /// The s3:// or file:// location that a value of the command line was rewritten from, or the value itself when it
    /// was not rewritten: what a step records as its input's source (import.json), rather than a cache path.
    /// </summary>
    public static string LocationOf(string value) => Current?.locations.GetValueOrDefault(value) ?? value;

    /// <summary>The store of a location, opened once; S3 settings are read from the environment the first time they are needed.</summary>
    private IArtifactStore Store(ArtifactLocation location)
    {
        if (!stores.TryGetValue(location, out var store))
            stores[location] = store = location.IsS3
                ? new S3ArtifactStore(location, settings ??= S3Settings.FromEnvironment())
                : new FileArtifactStore(location);
        return store;
    }

    /// <summary>Rewrites <paramref name="args"/>; fetches remote inputs now. Null when nothing in them is remote.</summary>
    public static (RemoteArtifacts? Remote, string[] Args) Prepare(string[] args)
    {
        if (!args.Any(a => a.Contains("s3://", StringComparison.Ordinal) || a.Contains("file://", StringComparison.Ordinal))) return (null, args);
        var remote = new RemoteArtifacts(args.Length > 0 && FetchedByCommand.TryGetValue(args[0], out var options) ? options : []);
        var resume = args.Contains("--resume");
        var rewritten = new string[args.Length];
        string? option = null;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                var arg = args[i];
                if (arg.StartsWith("--", StringComparison.Ordinal))
                {
                    var equals = arg.IndexOf('=');
                    option = equals < 0 ? arg : arg[..equals];
                    rewritten[i] = equals < 0 ? arg : $"{option}={remote.Rewrite(arg[(equals + 1)..], option, resume)}";
                    continue;
                }
                rewritten[i] = option is null ? arg : remote.Rewrite(arg, option, resume);
            }
        }
        catch
        {
            remote.Dispose();
            throw;
        }
        Current = remote;
        return (remote, rewritten);
    }

    /// <summary>A value, or a NAME=VALUE pair (<c>--expert</c>, <c>--domain</c>), with its location made local.</summary>
    private string Rewrite(string value, string option, bool resume)
    {
        if (TextOptions.Contains(option) || deferred.Contains(option)) return value;
        var equals = value.IndexOf('=');
        if (equals > 0 && IsLocation(value[(equals + 1)..])) return $"{value[..equals]}={Rewrite(value[(equals + 1)..], option, resume)}";
        if (!IsLocation(value)) return value;
        var location = ArtifactLocation.Parse(value);
        var local = OutputOptions.Contains(option) ? Stage(location, resume) : FetchAsync(location, CancellationToken.None).GetAwaiter().GetResult();
        locations[local] = value;
        return local;
    }

    private static bool IsLocation(string value) => value.StartsWith("s3://", StringComparison.Ordinal) || value.StartsWith("file://", StringComparison.Ordinal);

    private string CachePath(ArtifactLocation location, string kind) =>
        Path.GetFullPath(Path.Combine(cache, kind, location.Bucket ?? "file", location.Path.TrimStart('/')));

    /// <summary>The artifact that the first <paramref name="keep"/> segments of a location's path name.</summary>
    private static ArtifactLocation Prefix(ArtifactLocation location, string[] segments, int keep) =>
        ArtifactLocation.Parse(location.IsS3 ? $"s3://{location.Bucket}/{string.Join('/', segments[..keep])}" : $"file:///{string.Join('/', segments[..keep])}");

    /// <summary>Whether a prefix may hold a published artifact (a local folder only when it has one's layout).</summary>
    private static bool MayBeArtifact(ArtifactLocation location) => location.IsS3 || FileArtifactStore.HoldsArtifact(location.Path);

    /// <summary>
    /// Fetches an input into the cache unless the cached copy is of the current publish. The location may be an artifact,
    /// or a path inside one (<c>s3://b/runs/seed/model</c> inside the run published at <c>s3://b/runs/seed</c>); returns
    /// the local folder or file it names (an artifact of one file named like the location gives that file). A
    /// <c>file://</c> location that no published artifact holds is its own path, as a plain folder.
    /// </summary>
    private async Task<string> FetchAsync(ArtifactLocation location, CancellationToken cancellationToken)
    {
        var segments = location.Path.Trim('/').Split('/');
        for (var keep = segments.Length; keep >= 1; keep--)
        {
            var artifact = Prefix(location, segments, keep);
            if (!MayBeArtifact(artifact)) continue;
            var store = Store(artifact);
            if (await store.GetManifestAsync(cancellationToken) is not { } manifest) continue;
            var local = CachePath(artifact, "in");
            var stamp = local + ".publish";
            if (!(Directory.Exists(local) && File.Exists(stamp) && File.ReadAllText(stamp) == manifest.Publish))
            {
                Console.Error.WriteLine($"Fetching {artifact} ({manifest.TotalSize:N0} bytes in {manifest.Files.Count} files)...");
                manifest = await store.FetchAsync(local, cancellationToken); // what was fetched, should a publish have come between
                File.WriteAllText(stamp, manifest.Publish);
            }
            var inside = string.Join('/', segments[keep..]);
            if (inside.Length > 0)
                return manifest.Files.Any(f => f.Path == inside || f.Path.StartsWith(inside + "/", StringComparison.Ordinal))
                    ? Path.Combine(local, inside)
                    : throw new ArgumentException($"{location}: the artifact {artifact} has no '{inside}'.");
            var name = segments[^1];
            return manifest.Files is [{ Path: var only }] && only == name ? Path.Combine(local, name) : local;
        }
        return location.IsS3
            ? throw new ArgumentException($"{location} holds no published artifact, nor does any prefix of it; publish it first (the --out of an earlier step).")
            : location.Path;
    }

    /// <summary>
    /// An input the command fetches itself (see <c>FetchedByCommand</c>): an <c>s3://</c> or <c>file://</c> value is
    /// fetched and verified into the cache as <see cref="Prepare"/> would have done, anything else is a local path already.
    /// </summary>
    public static async Task<string> FetchInputAsync(string value, CancellationToken cancellationToken)
    {
        if (!IsLocation(value)) return value;
        var location = ArtifactLocation.Parse(value);
        var remote = Current ?? throw new InvalidOperationException($"{value}: no command line is being run to fetch it for.");
        var local = await remote.FetchAsync(location, cancellationToken);
        remote.locations[local] = value;
        return local;
    }

    /// <summary>A staging path for an output; with --resume, the published artifact (its checkpoints) is fetched into it first.</summary>
    private string Stage(ArtifactLocation location, bool resume)
    {
        var folder = CachePath(location, "out");
        var name = location.Path.Split('/')[^1];
        var local = Path.Combine(folder, name);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        if (resume && Store(location).GetManifestAsync().GetAwaiter().GetResult() is not null)
        {
            Console.Error.WriteLine($"Fetching {location} to resume from it...");
            Store(location).FetchAsync(local).GetAwaiter().GetResult();
        }
        outputs.Add((local, location));
        return local;
    }

    /// <summary>Publishes every output the command has written so far: a folder as itself, a file as an artifact of that one file.</summary>
    public void PublishOutputs()
    {
        foreach (var (local, remote) in outputs)
        {
            var folder = Directory.Exists(local) ? local : File.Exists(local) ? Path.GetDirectoryName(local)! : null;
            if (folder is null) continue;
            var result = Store(remote).PublishAsync(folder).GetAwaiter().GetResult();
            Console.Error.WriteLine($"Published {remote} ({result.Manifest.TotalSize:N0} bytes in {result.Manifest.Files.Count} files" +
                                    (result.ResumedBytes > 0 ? $"; {result.ResumedBytes:N0} of them were stored by an interrupted publish)." : ")."));
        }
    }

    /// <summary>Ends the command line: forgets it as <see cref="Current"/> and closes its stores.</summary>
    public void Dispose()
    {
        if (ReferenceEquals(Current, this)) Current = null;
        foreach (var store in stores.Values) (store as IDisposable)?.Dispose();
        stores.Clear();
    }
}

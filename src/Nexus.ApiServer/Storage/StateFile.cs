using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Nexus.ApiServer.Resources;

namespace Nexus.ApiServer.Storage;

/// <summary>
/// The store saved to one JSON file, so that a server started again on the same file (a re-run of <c>nexus run</c>)
/// resumes where the last one stopped: every object as stored (uid, resourceVersion, status kept) and the global
/// revision. The file is replaced atomically (written beside it, flushed, renamed over it): a crash leaves the last
/// whole save. Only the objects are kept; the event history is not, so a watch from before the restart gets 410 Expired.
/// </summary>
internal static partial class StateFile
{
    private const string Format = "nexus.apiserver.state/v1";

    /// <summary>Writes the store's current objects to <paramref name="path"/>; returns the revision saved.</summary>
    public static long Save(ObjectStore store, string path)
    {
        var (revision, objects) = store.Transact(tx => (tx.Revision, tx.ScanAll().ToList()));
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.tmp-{Guid.NewGuid():N}");
        try
        {
            // Owner-only: the state holds Secrets (nexus run's S3 keys among them).
            var access = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                access.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var file = new FileStream(temporary, access))
            {
                using (var writer = new Utf8JsonWriter(file))
                {
                    writer.WriteStartObject();
                    writer.WriteString("format", Format);
                    writer.WriteNumber("revision", revision);
                    writer.WriteStartArray("objects");
                    foreach (var stored in objects)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("group", stored.Definition.Group);
                        writer.WriteString("version", stored.Definition.Version);
                        writer.WriteString("plural", stored.Definition.Plural);
                        writer.WritePropertyName("object");
                        writer.WriteRawValue(stored.Json, skipInputValidation: true);
                        writer.WriteEndObject();
                    }

                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }

                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        return revision;
    }

    /// <summary>
    /// Puts the objects saved in <paramref name="path"/> back into an empty store. CustomResourceDefinitions go first
    /// and are committed (their resources served, with the server's admission), then namespaces, then the rest; an
    /// object whose resource is no longer served is skipped with a warning. Returns the revision restored.
    /// </summary>
    public static long Load(ObjectStore store, ResourceCatalog catalog, string path, ILogger logger)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The API server's state file {path} is not valid JSON ({e.Message}); delete it to start afresh.", e);
        }

        if (ObjectJson.StringOf(root["format"]) != Format)
        {
            throw new InvalidDataException($"The API server's state file {path} has format '{ObjectJson.StringOf(root["format"])}', not {Format}; delete it to start afresh.");
        }

        var entries = (root["objects"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(entry => (Group: ObjectJson.StringOf(entry["group"]) ?? "", Version: ObjectJson.StringOf(entry["version"]) ?? "",
                Plural: ObjectJson.StringOf(entry["plural"]) ?? "", Object: entry["object"] as JsonObject))
            .OrderBy(entry => entry is { Group: "apiextensions.k8s.io", Plural: "customresourcedefinitions" } ? 0 : entry is { Group: "", Plural: "namespaces" } ? 1 : 2)
            .ToList();
        foreach (var (group, version, plural, obj) in entries)
        {
            var definition = catalog.Find(group, version, plural);
            if (definition is null || obj is null)
            {
                LogSkipped(logger, group, version, plural, path);
                continue;
            }

            var stored = store.Transact(tx => tx.Restore(definition, obj));
            definition.Strategy.Committed(stored.ToJsonObject());
        }

        var revision = root["revision"]?.GetValue<long>() ?? 0;
        store.Transact(tx =>
        {
            tx.RestoredAt(revision);
            return 0;
        });
        return store.Revision;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped a saved {Group}/{Version} {Plural} in {Path}: the resource is not served")]
    private static partial void LogSkipped(ILogger logger, string group, string version, string plural, string path);
}

/// <summary>Saves the store to its <see cref="StateFile"/> a short while after each change (several changes close
/// together make one save), and once more when disposed.</summary>
internal sealed partial class StateSaver : IAsyncDisposable
{
    private readonly ObjectStore store;
    private readonly string path;
    private readonly TimeSpan delay;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task loop;
    private long saved;

    public StateSaver(ObjectStore store, string path, TimeSpan delay, ILogger logger)
    {
        this.store = store;
        this.path = path;
        this.delay = delay;
        this.logger = logger;
        saved = store.Revision;
        loop = Task.Run(() => RunAsync(stopping.Token));
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await loop;
        SaveIfChanged();
        stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await store.WaitForChangeAsync(cancellationToken);
                await Task.Delay(delay, cancellationToken);
                SaveIfChanged();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed: the last save follows.
        }
    }

    private void SaveIfChanged()
    {
        if (store.Revision == saved)
        {
            return;
        }

        try
        {
            saved = StateFile.Save(store, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The next change tries again; the file keeps the last whole save.
            LogSaveFailed(logger, path, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not save the API server's state to {Path}: {Reason}")]
    private static partial void LogSaveFailed(ILogger logger, string path, string reason);
}

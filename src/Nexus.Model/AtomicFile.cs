namespace Nexus.Model;

/// <summary>Writes that are never seen half done: a temporary sibling, flushed, then renamed over the target.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string contents) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(contents);
        });

    public static void Write(string path, Action<Stream> write)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.tmp-{Guid.NewGuid():N}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}

/// <summary>
/// Folders that are never seen half written: filled in a hidden sibling (<c>.name.tmp-…</c>), then
/// swapped into place, so a reader sees the old folder or the new one, never a mix, and a crash leaves
/// at most a hidden staging folder that no listing mistakes for the real thing.
/// </summary>
public static class AtomicDirectory
{
    public static void Write(string directory, Action<string> fill) =>
        WriteAsync(directory, staging =>
        {
            fill(staging);
            return Task.CompletedTask;
        }).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Write"/>, for a fill that streams (and may be cancelled: the staging folder goes with it).</summary>
    public static async Task WriteAsync(string directory, Func<string, Task> fill)
    {
        var full = Path.GetFullPath(directory);
        var parent = Path.GetDirectoryName(full)!;
        var name = Path.GetFileName(full);
        var staging = Path.Combine(parent, $".{name}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            await fill(staging);
            if (Directory.Exists(full))
            {
                var old = Path.Combine(parent, $".{name}.old-{Guid.NewGuid():N}");
                Directory.Move(full, old);
                Directory.Move(staging, full);
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Directory.Move(staging, full);
            }
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
    }
}

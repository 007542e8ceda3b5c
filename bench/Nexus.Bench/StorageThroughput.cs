using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Nexus.Storage;
using Nexus.Storage.Tests;

namespace Nexus.Bench;

/// <summary>
/// <c>Nexus.Bench storage [--size-mb 1024] [--dir /tmp]</c>: publishes and fetches one artifact of a single file of
/// SIZE MB through <c>file://</c> and through <c>s3://</c> on a loopback s3rver, each in a child process
/// (<c>storage-run</c>) so that its peak RSS is its own, against cp(1) of the same file in the same run.
/// </summary>
public static class StorageThroughput
{
    public static Dictionary<string, object> Run(BenchArguments arguments)
    {
        var sizeBytes = (long)arguments.GetInt("size-mb", 1024) << 20;
        var root = Path.Combine(arguments.Get("dir", Path.GetTempPath()), "nexus-storage-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var source = Path.Combine(root, "source");
        Directory.CreateDirectory(source);
        try
        {
            WriteRandom(Path.Combine(source, "model.safetensors"), sizeBytes);
            var results = new Dictionary<string, object> { ["bytes"] = sizeBytes, ["page_cache"] = "warm (the file was just written)" };
            results["cp"] = Copy(Path.Combine(source, "model.safetensors"), Path.Combine(root, "cp.bin"), sizeBytes);
            File.Delete(Path.Combine(root, "cp.bin"));

            var folder = $"file://{Path.Combine(root, "store")}";
            results["file_publish"] = Child("publish", folder, source, null, sizeBytes);
            results["file_fetch"] = Child("fetch", folder, Path.Combine(root, "fetched-file"), null, sizeBytes);
            Directory.Delete(Path.Combine(root, "fetched-file"), recursive: true);

            using var server = new S3rver();
            var bucket = "s3://nexus-bench/models/big";
            using (var store = new S3ArtifactStore(ArtifactLocation.Parse(bucket), server.Settings)) store.EnsureBucketAsync().GetAwaiter().GetResult();
            var partMb = arguments.Get("part-mb", (S3ArtifactStore.DefaultPartSize >> 20).ToString(CultureInfo.InvariantCulture));
            results["part_mb"] = partMb;
            results["s3_publish"] = Child("publish", bucket, source, server.Settings.Endpoint, sizeBytes, partMb);
            results["s3_fetch"] = Child("fetch", bucket, Path.Combine(root, "fetched-s3"), server.Settings.Endpoint, sizeBytes, partMb);
            return results;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The child: one publish or fetch, its time and its peak RSS.</summary>
    public static Dictionary<string, object> RunChild(BenchArguments arguments)
    {
        var location = ArtifactLocation.Parse(arguments.Get("location", ""));
        var endpoint = arguments.Get("endpoint", "");
        ArtifactStore store = location.IsS3
            ? new S3ArtifactStore(location, S3rver.SettingsFor(new Uri(endpoint)),
                partSize: (long)arguments.GetInt("part-mb", (int)(S3ArtifactStore.DefaultPartSize >> 20)) << 20)
            : new FileArtifactStore(location);
        var clock = Stopwatch.StartNew();
        if (arguments.Get("op", "") == "publish") store.PublishAsync(arguments.Get("path", "")).GetAwaiter().GetResult();
        else store.FetchAsync(arguments.Get("path", "")).GetAwaiter().GetResult();
        var seconds = clock.Elapsed.TotalSeconds;
        (store as IDisposable)?.Dispose();
        return new Dictionary<string, object> { ["seconds"] = seconds, ["peak_rss_bytes"] = UpcycleThroughput.StatusBytes("VmHWM:") };
    }

    private static Dictionary<string, object> Child(string op, string location, string path, Uri? endpoint, long bytes, string partMb = "0")
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
        foreach (var argument in new[] { "storage-run", "--op", op, "--location", location, "--path", path, "--endpoint", endpoint?.ToString() ?? "", "--part-mb", partMb })
            start.ArgumentList.Add(argument);
        using var child = Process.Start(start)!;
        var text = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"storage-run {op} {location} exited with {child.ExitCode}: {text}");
        var result = JsonDocument.Parse(text).RootElement;
        var seconds = result.GetProperty("seconds").GetDouble();
        return new Dictionary<string, object>
        {
            ["seconds"] = seconds,
            ["mb_per_s"] = bytes / 1e6 / seconds,
            ["peak_rss_bytes"] = result.GetProperty("peak_rss_bytes").GetInt64(),
        };
    }

    /// <summary>cp(1) under /usr/bin/time: its wall-clock seconds and its peak RSS.</summary>
    private static Dictionary<string, object> Copy(string source, string target, long bytes)
    {
        var start = new ProcessStartInfo("/usr/bin/time", ["-f", "%e %M", "cp", source, target]) { RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var report = process.StandardError.ReadToEnd().Trim().Split('\n')[^1].Split(' ');
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"cp exited with {process.ExitCode}.");
        var seconds = double.Parse(report[0], CultureInfo.InvariantCulture);
        return new Dictionary<string, object>
        {
            ["seconds"] = seconds,
            ["mb_per_s"] = bytes / 1e6 / seconds,
            ["peak_rss_bytes"] = long.Parse(report[1], CultureInfo.InvariantCulture) * 1024,
        };
    }

    private static void WriteRandom(string path, long bytes)
    {
        var buffer = new byte[8 << 20];
        new Random(7).NextBytes(buffer);
        using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1);
        for (var left = bytes; left > 0; left -= buffer.Length)
        {
            buffer[0]++; // no two chunks alike
            output.Write(buffer, 0, (int)Math.Min(left, buffer.Length));
        }
    }
}

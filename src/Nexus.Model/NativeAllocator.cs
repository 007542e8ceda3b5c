using System.Runtime.InteropServices;

namespace Nexus.Model;

/// <summary>
/// Keeps a training or serving process's resident memory flat. glibc serves allocations below its mmap
/// threshold from the heap, and raises that threshold (up to 32 MiB) each time it frees a mapped block.
/// libtorch's activations are a few MiB each and are freed every step, so after the first step they all
/// land in the heap, which fragments and grows step after step (on the 25M model: 1.7 GB after 2 steps,
/// 2.8 GB after 40). Fixing the threshold at 1 MiB maps every activation and returns it to the
/// kernel when freed: RSS stays flat — what a pod with a memory limit needs — at some cost in speed
/// (measured in docs/benchmarks.md).
/// </summary>
public static partial class NativeAllocator
{
    public const string ThresholdVariable = "NEXUS_MMAP_THRESHOLD_BYTES";
    public const int DefaultThresholdBytes = 1 << 20;
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD in malloc.h

    /// <summary>
    /// Applies the threshold from <c>NEXUS_MMAP_THRESHOLD_BYTES</c> (default 1 MiB; 0 keeps glibc's
    /// dynamic threshold). Leaves glibc alone when the user set <c>MALLOC_MMAP_THRESHOLD_</c>, and does
    /// nothing off glibc. Returns what was applied, for logs.
    /// </summary>
    public static string Configure()
    {
        if (!OperatingSystem.IsLinux()) return "allocator: not glibc, unchanged";
        if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is { Length: > 0 } user)
            return $"allocator: MALLOC_MMAP_THRESHOLD_={user} from the environment";
        var threshold = DefaultThresholdBytes;
        if (Environment.GetEnvironmentVariable(ThresholdVariable) is { Length: > 0 } text &&
            (!int.TryParse(text, out threshold) || threshold < 0))
            throw new ArgumentException($"{ThresholdVariable}={text} is not a byte count; use e.g. 1048576, or 0 for glibc's default.");
        if (threshold == 0) return "allocator: glibc dynamic mmap threshold";
        try
        {
            return mallopt(MmapThreshold, threshold) == 1
                ? $"allocator: mmap threshold {threshold} bytes"
                : "allocator: mallopt refused the mmap threshold; glibc default kept";
        }
        catch (EntryPointNotFoundException)
        {
            return "allocator: no mallopt (not glibc), unchanged";
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int parameter, int value);
}

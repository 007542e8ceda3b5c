// Makes libLibTorchSharp.so load on systems whose libstdc++ predates GCC 13 (Debian 12: up to GLIBCXX_3.4.30).
//
// TorchSharp 0.107's native shim records a need for GLIBCXX_3.4.32, for one symbol
// (std::ios_base_library_init) that it never calls. The dynamic loader refuses the whole library when a
// needed version is missing, unless that need is marked weak (VER_FLG_WEAK in the Vernaux entry of
// .gnu.version_r). This file marks it weak. It is compiled twice: as an MSBuild inline task
// (build/LibTorchSharpCompat.targets) and into the tests (with NEXUS_NO_MSBUILD defined).
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

public enum WeakenResult
{
    Weakened,
    AlreadyWeak,
    NotNeeded,
}

public static class GlibcxxCompat
{
    public const string Version = "GLIBCXX_3.4.32";

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    private static readonly string[] LibStdCxxCandidates =
    {
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    /// <summary>The system libstdc++, or null when none is found at the usual places.</summary>
    public static string? FindSystemLibStdCxx()
    {
        foreach (var path in LibStdCxxCandidates)
        {
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>True when the shared library at <paramref name="libraryPath"/> defines <paramref name="version"/>.</summary>
    public static bool Defines(string libraryPath, string version)
    {
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        var haystack = File.ReadAllBytes(libraryPath);
        return IndexOf(haystack, needle) >= 0;
    }

    /// <summary>Names of the versions an ELF file needs, with their weak flag.</summary>
    public static List<KeyValuePair<string, bool>> ReadVersionNeeds(string elfPath)
    {
        var image = File.ReadAllBytes(elfPath);
        var result = new List<KeyValuePair<string, bool>>();
        foreach (var aux in EnumerateVernaux(image, elfPath))
        {
            result.Add(new KeyValuePair<string, bool>(aux.Name, (ReadU16(image, aux.FlagsOffset, elfPath) & VerFlgWeak) != 0));
        }
        return result;
    }

    /// <summary>
    /// Marks the need for <paramref name="version"/> weak. Only the two flag bytes of each matching
    /// Vernaux entry are written, in place, and only when they change.
    /// </summary>
    public static WeakenResult MakeVersionNeedWeak(string elfPath, string version)
    {
        var image = File.ReadAllBytes(elfPath);
        // Parse everything before writing anything, so a malformed file is never left half patched
        // and a file that needs no change is never opened for writing.
        var flagOffsetsToWeaken = new List<int>();
        var found = false;
        foreach (var aux in EnumerateVernaux(image, elfPath))
        {
            if (aux.Name != version) continue;
            found = true;
            if ((ReadU16(image, aux.FlagsOffset, elfPath) & VerFlgWeak) == 0) flagOffsetsToWeaken.Add(aux.FlagsOffset);
        }
        if (!found) return WeakenResult.NotNeeded;
        if (flagOffsetsToWeaken.Count == 0) return WeakenResult.AlreadyWeak;

        using (var file = new FileStream(elfPath, FileMode.Open, FileAccess.ReadWrite))
        {
            foreach (var offset in flagOffsetsToWeaken)
            {
                var weak = (ushort)(ReadU16(image, offset, elfPath) | VerFlgWeak);
                file.Position = offset;
                file.WriteByte((byte)weak);
                file.WriteByte((byte)(weak >> 8));
            }
        }
        return WeakenResult.Weakened;
    }

    private struct Vernaux
    {
        public string Name;
        public int FlagsOffset;
    }

    // Offsets are computed in long and every read is bounds-checked: a truncated or corrupt file must
    // fail with InvalidDataException, not with an IndexOutOfRangeException from deep inside the parser.
    private static IEnumerable<Vernaux> EnumerateVernaux(byte[] image, string path)
    {
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
            throw new InvalidDataException(path + " is not an ELF file.");
        if (image[4] != 2 || image[5] != 1)
            throw new InvalidDataException(path + " is not a 64-bit little-endian ELF file.");

        var sectionHeaderOffset = CheckedOffset(ReadU64(image, 0x28, path), image, path);
        long sectionHeaderSize = ReadU16(image, 0x3A, path);
        long sectionCount = ReadU16(image, 0x3C, path);
        if (sectionHeaderSize < 64 || sectionHeaderOffset + sectionHeaderSize * sectionCount > image.Length)
            throw new InvalidDataException(path + ": section header table lies outside the file.");

        for (long i = 0; i < sectionCount; i++)
        {
            var header = sectionHeaderOffset + i * sectionHeaderSize;
            if (ReadU32(image, header + 4, path) != ShtGnuVerneed) continue;

            var verneedOffset = CheckedOffset(ReadU64(image, header + 0x18, path), image, path);
            long link = ReadU32(image, header + 0x28, path);
            long entryCount = ReadU32(image, header + 0x2C, path); // sh_info: number of Verneed entries
            if (link >= sectionCount) throw new InvalidDataException(path + ": .gnu.version_r links to a missing string table.");
            var stringTable = CheckedOffset(ReadU64(image, sectionHeaderOffset + link * sectionHeaderSize + 0x18, path), image, path);

            var need = verneedOffset;
            for (long n = 0; n < entryCount; n++)
            {
                long auxCount = ReadU16(image, need + 2, path);
                var aux = need + ReadU32(image, need + 8, path);
                for (long a = 0; a < auxCount; a++)
                {
                    RequireBytes(image, aux, 16, path);
                    var name = ReadCString(image, stringTable + ReadU32(image, aux + 8, path), path);
                    yield return new Vernaux { Name = name, FlagsOffset = (int)(aux + 4) };
                    long nextAux = ReadU32(image, aux + 12, path);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                long nextNeed = ReadU32(image, need + 12, path);
                if (nextNeed == 0) break;
                need += nextNeed;
            }
        }
    }

    private static long CheckedOffset(ulong offset, byte[] image, string path)
    {
        if (offset > (ulong)image.Length) throw new InvalidDataException(path + ": offset " + offset + " lies outside the file.");
        return (long)offset;
    }

    private static void RequireBytes(byte[] image, long offset, int count, string path)
    {
        if (offset < 0 || offset + count > image.Length)
            throw new InvalidDataException(path + ": " + count + " bytes at offset " + offset + " lie outside the file (truncated or corrupt ELF).");
    }

    private static string ReadCString(byte[] image, long offset, string path)
    {
        RequireBytes(image, offset, 1, path);
        var end = offset;
        while (end < image.Length && image[end] != 0) end++;
        if (end >= image.Length) throw new InvalidDataException(path + ": unterminated string in the dynamic string table.");
        return Encoding.ASCII.GetString(image, (int)offset, (int)(end - offset));
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= haystack.Length; i++)
        {
            var j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    private static ushort ReadU16(byte[] b, long o, string path)
    {
        RequireBytes(b, o, 2, path);
        return (ushort)(b[o] | (b[o + 1] << 8));
    }

    private static uint ReadU32(byte[] b, long o, string path)
    {
        RequireBytes(b, o, 4, path);
        return BitConverter.ToUInt32(b, (int)o);
    }

    private static ulong ReadU64(byte[] b, long o, string path)
    {
        RequireBytes(b, o, 8, path);
        return BitConverter.ToUInt64(b, (int)o);
    }
}

#if !NEXUS_NO_MSBUILD
/// <summary>MSBuild task: weakens the GLIBCXX_3.4.32 need of each file when the system libstdc++ lacks it.</summary>
public class MakeGlibcxxNeedWeak : Microsoft.Build.Utilities.Task
{
    [Microsoft.Build.Framework.Required]
    public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

    public override bool Execute()
    {
        var libStdCxx = GlibcxxCompat.FindSystemLibStdCxx();
        if (libStdCxx == null)
        {
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "No system libstdc++ found; libLibTorchSharp.so left as shipped.");
            return true;
        }
        if (GlibcxxCompat.Defines(libStdCxx, GlibcxxCompat.Version))
        {
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, libStdCxx + " provides " + GlibcxxCompat.Version + "; libLibTorchSharp.so left as shipped.");
            return true;
        }
        foreach (var file in Files)
        {
            var result = GlibcxxCompat.MakeVersionNeedWeak(file.ItemSpec, GlibcxxCompat.Version);
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                file.ItemSpec + ": " + GlibcxxCompat.Version + " need " + result + " (system libstdc++ lacks it).");
        }
        return true;
    }
}
#endif

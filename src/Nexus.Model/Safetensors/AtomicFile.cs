using System.Security.Cryptography;

namespace Nexus.Model.Safetensors;

internal static class AtomicFile
{
    /// <summary>Writes via an fsynced temporary file and a rename, so readers see the old content or the new, never a mix.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var tempPath = TempPathFor(path);
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(tempPath, path, overwrite: true);
        }
        catch
        {
            File.Delete(tempPath);
            throw;
        }
    }

    public static string TempPathFor(string path) =>
        $"{path}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
}

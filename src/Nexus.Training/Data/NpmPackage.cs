using System.Security.Cryptography;

namespace Nexus.Training.Data;

/// <summary>
/// An npm package pinned to one version and to the integrity of its tarball (the registry's
/// <c>sha512-…</c> string, as in package-lock.json), so a fetched or cached tarball is the one the pin names.
/// </summary>
public sealed record NpmPackage(string Name, string Version, string Integrity)
{
    /// <summary>What <c>npm pack</c> is given: <c>name@version</c>.</summary>
    public string Spec => $"{Name}@{Version}";

    /// <summary>The file name <c>npm pack</c> writes: a scope's <c>@</c> dropped and its <c>/</c> turned into <c>-</c>.</summary>
    public string TarballFileName => $"{Name.TrimStart('@').Replace('/', '-')}-{Version}.tgz";

    /// <summary>The npm integrity string of a file: <c>sha512-</c> and the base64 SHA-512 of its bytes.</summary>
    public static string IntegrityOf(string path)
    {
        using var stream = File.OpenRead(path);
        return "sha512-" + Convert.ToBase64String(SHA512.HashData(stream));
    }
}

using System.Text.RegularExpressions;

namespace Nexus.Storage;

/// <summary>
/// Where an artifact lives: <c>s3://BUCKET/PREFIX</c>, <c>file:///ABSOLUTE/PATH</c>, or a plain path (a folder on this
/// machine). An artifact is a folder's worth of files under that location plus the manifest that lists them.
/// </summary>
public sealed partial record ArtifactLocation
{
    private ArtifactLocation(string? bucket, string path) => (Bucket, Path) = (bucket, path);

    /// <summary>The bucket of an <c>s3://</c> location; null for a local folder.</summary>
    public string? Bucket { get; }

    /// <summary>The key prefix (no leading or trailing '/') in the bucket, or the local folder's full path.</summary>
    public string Path { get; }

    public bool IsS3 => Bucket is not null;

    public static ArtifactLocation Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        if (value.StartsWith("s3://", StringComparison.Ordinal))
        {
            var rest = value["s3://".Length..];
            var slash = rest.IndexOf('/');
            var bucket = slash < 0 ? rest : rest[..slash];
            var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
            if (!BucketName().IsMatch(bucket))
                throw new ArgumentException($"'{value}': '{bucket}' is not an S3 bucket name (3–63 characters: lower-case letters, digits, '.' and '-').");
            if (prefix.Length == 0)
                throw new ArgumentException($"'{value}' names a bucket but no key prefix; give the artifact a folder, e.g. s3://{bucket}/models/seed.");
            if (prefix.Split('/').Any(part => part is "" or "." or ".."))
                throw new ArgumentException($"'{value}': the key prefix has an empty, '.' or '..' segment.");
            return new ArtifactLocation(bucket, prefix);
        }
        if (value.StartsWith("file://", StringComparison.Ordinal))
        {
            var path = value["file://".Length..];
            if (!path.StartsWith('/'))
                throw new ArgumentException($"'{value}': a file:// location needs an absolute path (file:///data/models/seed).");
            return new ArtifactLocation(null, System.IO.Path.GetFullPath(path));
        }
        if (value.Contains("://", StringComparison.Ordinal))
            throw new ArgumentException($"'{value}': only s3://, file:// and plain paths are artifact locations.");
        return new ArtifactLocation(null, System.IO.Path.GetFullPath(value));
    }

    public override string ToString() => IsS3 ? $"s3://{Bucket}/{Path}" : $"file://{Path}";

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();
}

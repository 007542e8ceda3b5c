namespace Nexus.Storage;

/// <summary>
/// How to reach S3-compatible storage: endpoint URL, region and credentials, from environment variables or from files
/// (a Kubernetes Secret mounted as a volume). <see cref="ToString"/> never shows the secret key.
/// </summary>
public sealed record S3Settings(Uri Endpoint, string Region, string AccessKey, string SecretKey)
{
    /// <summary>
    /// NEXUS_S3_ENDPOINT (e.g. http://minio.nexus:9000; default https://s3.amazonaws.com), NEXUS_S3_REGION (default
    /// us-east-1), and NEXUS_S3_ACCESS_KEY / NEXUS_S3_SECRET_KEY, each of which may instead be given as a file path in
    /// NEXUS_S3_ACCESS_KEY_FILE / NEXUS_S3_SECRET_KEY_FILE. The AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY variables are used where ours are not set.
    /// </summary>
    public static S3Settings FromEnvironment(Func<string, string?>? variable = null)
    {
        variable ??= Environment.GetEnvironmentVariable;
        string? Get(string name, string aws)
        {
            var file = variable($"{name}_FILE");
            if (!string.IsNullOrEmpty(file))
            {
                if (!File.Exists(file)) throw new ArtifactStoreException($"{name}_FILE names {file}, which does not exist; mount the Secret there or unset it.");
                return File.ReadAllText(file).Trim();
            }
            var value = variable(name);
            return string.IsNullOrEmpty(value) ? variable(aws) : value;
        }
        var endpointText = Get("NEXUS_S3_ENDPOINT", "AWS_ENDPOINT_URL") ?? "https://s3.amazonaws.com";
        if (!Uri.TryCreate(endpointText, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            throw new ArtifactStoreException($"NEXUS_S3_ENDPOINT '{endpointText}' is not an http:// or https:// URL (e.g. http://minio:9000).");
        var accessKey = Get("NEXUS_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID");
        var secretKey = Get("NEXUS_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY");
        if (string.IsNullOrEmpty(accessKey) || string.IsNullOrEmpty(secretKey))
            throw new ArtifactStoreException(
                $"No S3 credentials for {endpoint}: set NEXUS_S3_ACCESS_KEY and NEXUS_S3_SECRET_KEY (or their _FILE variants pointing at a mounted Secret).");
        return new S3Settings(endpoint, Get("NEXUS_S3_REGION", "AWS_REGION") ?? "us-east-1", accessKey, secretKey);
    }

    public override string ToString() => $"S3Settings {{ Endpoint = {Endpoint}, Region = {Region}, AccessKey = {AccessKey}, SecretKey = *** }}";
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Nexus.Operator.Controllers;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Tests.Controllers;

public class ArtifactStoresTests
{
    [Fact]
    public async Task For_ReadsS3AtTheSettingsEndpointAndRegion_WithTheEnvironmentsCredentials()
    {
        using var s3 = new Nexus.Storage.Tests.ForbiddenS3();
        var settings = new OperatorSettings { S3Endpoint = s3.Endpoint.ToString(), S3Region = "eu-west-3" };
        var environment = new Dictionary<string, string>
        {
            // The operator's own variables name another endpoint and region: the settings, which the Jobs use, win.
            ["NEXUS_S3_ENDPOINT"] = "http://127.0.0.1:9/",
            ["NEXUS_S3_REGION"] = "us-west-2",
            ["NEXUS_S3_ACCESS_KEY"] = "operator-access-key",
            ["NEXUS_S3_SECRET_KEY"] = "operator-secret-key",
        };

        var store = ArtifactStores.For(settings, name => environment.GetValueOrDefault(name))("s3://nexus-artifacts/ml/experts/news/run");
        try
        {
            var denied = await Assert.ThrowsAnyAsync<ArtifactStoreException>(() => store.GetManifestAsync());
            Assert.Contains(s3.Endpoint.Authority, denied.Message, StringComparison.Ordinal);
        }
        finally
        {
            (store as IDisposable)?.Dispose();
        }

        var request = Assert.Single(s3.Requests);
        Assert.StartsWith("/nexus-artifacts/", request.Path, StringComparison.Ordinal);
        Assert.Contains("Credential=operator-access-key/", request.Authorization, StringComparison.Ordinal);
        Assert.Contains("/eu-west-3/s3/aws4_request", request.Authorization, StringComparison.Ordinal);
    }

    [Fact]
    public void For_OpensAFileLocationAsAFolder()
    {
        var store = ArtifactStores.For(new OperatorSettings(), _ => null)("file:///srv/artifacts/ml");

        Assert.IsType<FileArtifactStore>(store);
        Assert.Equal("/srv/artifacts/ml", store.Location.Path);
    }
}

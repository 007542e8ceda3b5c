using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Specs;
using static Nexus.Operator.Tests.Specs.SpecFixtures;

namespace Nexus.Operator.Tests.Specs;

public class ServingDeploymentTests
{
    private static V1Deployment Deployment(int revision = 3, NexusModel? model = null)
    {
        model ??= DemoModel();
        return ServingDeployment.Build(model, revision, Paths.RevisionModel(model, DemoBuild(revision)), Settings);
    }

    [Fact]
    public void TheDeployment_IsTheExpectedYaml() => ExpectedYaml.Matches("deployment-serving.yaml", Deployment());

    [Fact]
    public void TheService_IsTheExpectedYaml() => ExpectedYaml.Matches("service-serving.yaml", ServingService.Build(DemoModel()));

    [Fact]
    public void SameInput_GivesIdenticalYaml()
    {
        Assert.Equal(ExpectedYaml.Serialize(Deployment()), ExpectedYaml.Serialize(Deployment()));
        Assert.Equal(ExpectedYaml.Serialize(ServingService.Build(DemoModel())), ExpectedYaml.Serialize(ServingService.Build(DemoModel())));
    }

    [Fact]
    public void ANewRevision_ChangesThePodTemplatesAnnotation_AndNothingInTheSelector()
    {
        var third = Deployment(3);
        var fourth = Deployment(4);

        Assert.Equal("3", third.Metadata.Annotations["nexus.moe/revision"]);
        Assert.Equal("4", fourth.Metadata.Annotations["nexus.moe/revision"]);
        Assert.Equal("3", third.Spec.Template.Metadata.Annotations["nexus.moe/revision"]);
        Assert.Equal("4", fourth.Spec.Template.Metadata.Annotations["nexus.moe/revision"]);
        Assert.Equal(third.Metadata.Name, fourth.Metadata.Name);
        Assert.Equal(ExpectedYaml.Serialize(third.Spec.Selector), ExpectedYaml.Serialize(fourth.Spec.Selector));
        Assert.Equal(third.Spec.Template.Metadata.Labels, fourth.Spec.Template.Metadata.Labels);
        Assert.Equal(ExpectedYaml.Serialize(ServingService.Build(DemoModel()).Spec.Selector), ExpectedYaml.Serialize(third.Spec.Selector.MatchLabels));
        Assert.Contains(Paths.RevisionModel(DemoModel(), DemoBuild(4)), fourth.Spec.Template.Spec.Containers[0].Args);
    }

    [Fact]
    public void TheSelector_MatchesThePodTemplatesLabels_AndNamesTheModel()
    {
        var deployment = Deployment();

        Assert.All(deployment.Spec.Selector.MatchLabels, pair => Assert.Equal(pair.Value, deployment.Spec.Template.Metadata.Labels[pair.Key]));
        Assert.Equal("demo", deployment.Spec.Selector.MatchLabels["nexus.moe/nexusmodel"]);
        Assert.Equal("serving", deployment.Spec.Selector.MatchLabels["app.kubernetes.io/component"]);
    }

    [Fact]
    public void TheRolloutStrategy_IsTheSpecs_SoTheGpuScarceOptionPassesThrough()
    {
        var model = DemoModel();
        model.Spec.Serving.Strategy = new RolloutStrategy { MaxSurge = 0, MaxUnavailable = 1 };

        var rollingUpdate = Deployment(model: model).Spec.Strategy.RollingUpdate;

        Assert.Equal("RollingUpdate", Deployment(model: model).Spec.Strategy.Type);
        Assert.Equal("0", rollingUpdate.MaxSurge.Value);
        Assert.Equal("1", rollingUpdate.MaxUnavailable.Value);

        model.Spec.Serving.Strategy = new RolloutStrategy { MaxSurge = "25%", MaxUnavailable = "0%" };
        Assert.Equal("25%", Deployment(model: model).Spec.Strategy.RollingUpdate.MaxSurge.Value);
    }

    [Fact]
    public void Probes_GateReadinessOnTheLoadedModel_AndGiveTheDownloadItsTime()
    {
        var deployment = Deployment();
        var container = deployment.Spec.Template.Spec.Containers.Single();

        Assert.Equal(["serve", "--model", Paths.RevisionModel(DemoModel(), DemoBuild(3)), "--model-id", "demo", "--port", "8080"], container.Args);
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("/healthz", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("/readyz", container.StartupProbe.HttpGet.Path);
        Assert.Equal("http", container.ReadinessProbe.HttpGet.Port.Value);
        Assert.True(container.StartupProbe.PeriodSeconds * container.StartupProbe.FailureThreshold >= Settings.ServingStartupTimeoutSeconds);
        Assert.True(deployment.Spec.ProgressDeadlineSeconds > Settings.ServingStartupTimeoutSeconds);
        var port = Assert.Single(container.Ports);
        Assert.Equal(("http", 8080), (port.Name, port.ContainerPort));
    }

    [Fact]
    public void ServingPods_RunRestricted_WithTheCredentialsAsFiles_AndAModelCache()
    {
        var pod = Deployment().Spec.Template.Spec;
        var container = pod.Containers.Single();

        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        var cache = Assert.Single(pod.Volumes, volume => volume.EmptyDir is not null);
        Assert.Equal("model-cache", cache.Name);
        var env = container.Env.ToDictionary(variable => variable.Name, variable => variable.Value);
        Assert.Equal("/model-cache/artifacts", env["NEXUS_ARTIFACT_CACHE"]);
        Assert.Equal("/var/run/secrets/nexus.moe/s3/secret-key", env["NEXUS_S3_SECRET_KEY_FILE"]);
        Assert.True(Assert.Single(container.VolumeMounts, mount => mount.Name == "s3-credentials").ReadOnlyProperty);
        Assert.Equal("1", container.Resources.Limits["nvidia.com/gpu"].ToString());
    }

    [Fact]
    public void AQueueForServing_IsTheKueueLabelOnTheDeployment()
    {
        var model = DemoModel();
        Assert.False(Deployment(model: model).Metadata.Labels.ContainsKey("kueue.x-k8s.io/queue-name"));

        model.Spec.Serving.Resources.QueueName = "serving";

        Assert.Equal("serving", Deployment(model: model).Metadata.Labels["kueue.x-k8s.io/queue-name"]);
        Assert.False(Deployment(model: model).Spec.Template.Metadata.Labels.ContainsKey("kueue.x-k8s.io/queue-name"));
    }

    [Fact]
    public void TheVllmRuntime_IsASeamForALaterIssue_NotAFake()
    {
        var model = DemoModel();
        model.Spec.Serving.Runtime = ServingRuntime.Vllm;

        var error = Assert.Throws<NotSupportedException>(() => Deployment(model: model));
        Assert.Contains("vllm", error.Message, StringComparison.Ordinal);
        Assert.Contains("issue", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelNameThatIsNoServiceName_IsShortenedWithAHash()
    {
        var model = DemoModel();
        model.Metadata.Name = "7b.chat";

        var name = ServingDeployment.Name(model);

        Assert.True(KubernetesNames.IsDns1035Label(name), name);
        Assert.StartsWith("m-7b-chat-", name, StringComparison.Ordinal);
        Assert.Equal(name, ServingService.Build(model).Metadata.Name);
        Assert.Equal($"http://{name}.ml.svc:8080", ServingService.Endpoint(model));
        Assert.Equal("7b.chat", Deployment(model: model).Spec.Selector.MatchLabels["nexus.moe/nexusmodel"]);
    }

    [Fact]
    public void TheService_IsAClusterIpOnThePortNamedHttp()
    {
        var service = ServingService.Build(DemoModel());

        Assert.Equal("ClusterIP", service.Spec.Type);
        var port = Assert.Single(service.Spec.Ports);
        Assert.Equal(("http", 8080, "http"), (port.Name, port.Port, port.TargetPort.Value));
        Assert.True(Assert.Single(service.Metadata.OwnerReferences).Controller);
        Assert.Equal("http://demo.ml.svc:8080", ServingService.Endpoint(DemoModel()));
    }
}

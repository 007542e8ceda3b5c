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
    public void TheSpecHash_ChangesWithTheBuiltSpec_AndOnlyWithIt()
    {
        static string Hash(V1Deployment deployment) => deployment.Metadata.Annotations["nexus.moe/spec-hash"];
        var model = DemoModel();

        Assert.Equal(Hash(Deployment(model: model)), Hash(Deployment(model: DemoModel())));
        Assert.Equal(ServingDeployment.SpecHash(Deployment().Spec), Hash(Deployment()));
        Assert.NotEqual(Hash(Deployment(3)), Hash(Deployment(4)));
        model.Spec.Serving.Resources.Memory = new k8s.Models.ResourceQuantity("32Gi");
        Assert.NotEqual(Hash(Deployment(model: DemoModel())), Hash(Deployment(model: model)));
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

    /// <summary>The demo model served by vLLM on two GPUs of a labelled, tainted node pool.</summary>
    private static NexusModel VllmModel(int gpus = 2)
    {
        var model = DemoModel();
        model.Spec.Serving.Runtime = ServingRuntime.Vllm;
        model.Spec.Serving.Resources.Gpu = new GpuResources { Count = gpus };
        model.Spec.Serving.Resources.NodeSelector = new Dictionary<string, string> { ["pool"] = "serving", ["gpu"] = "h100" };
        return model;
    }

    [Fact]
    public void TheVllmDeployment_IsTheExpectedYaml() => ExpectedYaml.Matches("deployment-serving-vllm.yaml", Deployment(model: VllmModel()));

    [Fact]
    public void SwitchingTheRuntime_IsARollingUpdateOfTheSameDeployment()
    {
        var builtin = Deployment(model: DemoModel());
        var vllm = Deployment(model: VllmModel(gpus: 1));

        Assert.Equal(builtin.Metadata.Name, vllm.Metadata.Name);
        Assert.Equal(builtin.Metadata.NamespaceProperty, vllm.Metadata.NamespaceProperty);
        Assert.Equal(builtin.Metadata.Labels, vllm.Metadata.Labels);
        Assert.Equal(builtin.Metadata.Annotations["nexus.moe/revision"], vllm.Metadata.Annotations["nexus.moe/revision"]);
        // The spec's hash differs, so the reconciler replaces the template (NexusModelReconcilerTests switches and back).
        Assert.NotEqual(builtin.Metadata.Annotations["nexus.moe/spec-hash"], vllm.Metadata.Annotations["nexus.moe/spec-hash"]);
        Assert.Equal(ExpectedYaml.Serialize(builtin.Metadata.OwnerReferences), ExpectedYaml.Serialize(vllm.Metadata.OwnerReferences));
        Assert.Equal(ExpectedYaml.Serialize(builtin.Spec.Selector), ExpectedYaml.Serialize(vllm.Spec.Selector));
        Assert.Equal(ExpectedYaml.Serialize(builtin.Spec.Strategy), ExpectedYaml.Serialize(vllm.Spec.Strategy));
        Assert.Equal(builtin.Spec.Replicas, vllm.Spec.Replicas);
        Assert.Equal(builtin.Spec.ProgressDeadlineSeconds, vllm.Spec.ProgressDeadlineSeconds);
        Assert.Equal(builtin.Spec.Template.Metadata.Labels, vllm.Spec.Template.Metadata.Labels);
        Assert.Equal(builtin.Spec.Template.Metadata.Annotations, vllm.Spec.Template.Metadata.Annotations);
        // The Service (built from the model alone) keeps sending to the port named http, which both runtimes open.
        var servicePort = Assert.Single(ServingService.Build(VllmModel()).Spec.Ports);
        var port = Assert.Single(vllm.Spec.Template.Spec.Containers.Single().Ports);
        Assert.Equal((servicePort.TargetPort.Value, 8080), (port.Name, port.ContainerPort));
        Assert.NotEqual(ExpectedYaml.Serialize(builtin.Spec.Template), ExpectedYaml.Serialize(vllm.Spec.Template));
    }

    [Theory]
    [InlineData(0, "1")]
    [InlineData(1, "1")]
    [InlineData(4, "4")]
    [InlineData(8, "8")]
    public void VllmsTensorParallelSize_IsTheGpuCount(int gpus, string tensorParallelSize)
    {
        var server = Deployment(model: VllmModel(gpus)).Spec.Template.Spec.Containers.Single();

        Assert.Equal(tensorParallelSize, ArgumentOf(server.Args, "--tensor-parallel-size"));
        if (gpus > 0)
        {
            Assert.Equal(gpus.ToString(System.Globalization.CultureInfo.InvariantCulture), server.Resources.Limits["nvidia.com/gpu"].ToString());
        }
        else
        {
            Assert.DoesNotContain("nvidia.com/gpu", server.Resources.Limits.Keys);
        }
    }

    [Fact]
    public void TheExportInitContainer_ExportsTheServedRevision_AndVllmServesItUnderTheModelsName()
    {
        var settings = Settings with { VllmDtype = "f16" };
        var model = VllmModel();
        var uri = Paths.RevisionModel(model, DemoBuild(4));
        var pod = ServingDeployment.Build(model, 4, uri, settings).Spec.Template.Spec;

        var export = Assert.Single(pod.InitContainers);
        Assert.Equal(Settings.WorkerImage, export.Image);
        Assert.Equal(
            ["export", "--model", uri, "--format", "qwen2-moe", "--out", "/model-cache/qwen2-moe", "--dtype", "f16", "--require-hf-tokenizer"],
            export.Args);
        Assert.Equal("FallbackToLogsOnError", export.TerminationMessagePolicy);
        Assert.DoesNotContain("nvidia.com/gpu", export.Resources.Limits.Keys); // the export needs no GPU
        var server = pod.Containers.Single();
        Assert.Equal(Settings.VllmImage, server.Image);
        Assert.Equal("/model-cache/qwen2-moe", ArgumentOf(server.Args, "--model"));
        Assert.Equal("demo", ArgumentOf(server.Args, "--served-model-name"));
        Assert.Equal("8080", ArgumentOf(server.Args, "--port"));
        Assert.Equal("0.0.0.0", ArgumentOf(server.Args, "--host"));
        Assert.Equal("float16", ArgumentOf(server.Args, "--dtype"));
        Assert.Contains(server.VolumeMounts, mount => mount.Name == "model-cache" && mount.MountPath == "/model-cache");
        Assert.Contains(export.VolumeMounts, mount => mount.Name == "model-cache" && mount.MountPath == "/model-cache");
    }

    [Fact]
    public void VllmPods_RunRestricted_WithWritableCaches_SharedMemory_AndNoCredentialsInTheServer()
    {
        var pod = Deployment(model: VllmModel()).Spec.Template.Spec;
        var server = pod.Containers.Single();
        var export = pod.InitContainers.Single();

        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal(65532, pod.SecurityContext.RunAsUser); // vLLM's image would run as root
        Assert.False(pod.AutomountServiceAccountToken);
        foreach (var container in new[] { server, export })
        {
            Assert.Equal(65532, container.SecurityContext.RunAsUser);
            Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
            Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
            Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        }

        Assert.True(Assert.Single(export.VolumeMounts, mount => mount.Name == "s3-credentials").ReadOnlyProperty);
        Assert.DoesNotContain(server.VolumeMounts, mount => mount.Name == "s3-credentials");
        Assert.DoesNotContain(server.Env, variable => variable.Name.StartsWith("NEXUS_S3", StringComparison.Ordinal));
        var shm = Assert.Single(pod.Volumes, volume => volume.Name == "dshm");
        Assert.Equal("Memory", shm.EmptyDir.Medium);
        Assert.Contains(server.VolumeMounts, mount => mount.Name == "dshm" && mount.MountPath == "/dev/shm");
        Assert.NotNull(Assert.Single(pod.Volumes, volume => volume.Name == "tmp").EmptyDir);
        Assert.Contains(server.VolumeMounts, mount => mount.Name == "tmp" && mount.MountPath == "/tmp");
        var env = server.Env.ToDictionary(variable => variable.Name, variable => variable.Value);
        Assert.StartsWith("/model-cache/", env["HOME"], StringComparison.Ordinal);
        Assert.StartsWith(env["HOME"], env["HF_HOME"], StringComparison.Ordinal);
        Assert.Equal("/tmp", env["TMPDIR"]);
        Assert.Equal("1", env["HF_HUB_OFFLINE"]);
    }

    [Fact]
    public void VllmProbes_WaitOnHealth_ForTheServingStartupTimeout()
    {
        var deployment = Deployment(model: VllmModel());
        var server = deployment.Spec.Template.Spec.Containers.Single();

        Assert.Equal("/health", server.StartupProbe.HttpGet.Path);
        Assert.Equal("/health", server.ReadinessProbe.HttpGet.Path);
        Assert.Equal("/health", server.LivenessProbe.HttpGet.Path);
        Assert.Equal("http", server.StartupProbe.HttpGet.Port.Value);
        Assert.True(server.StartupProbe.PeriodSeconds * server.StartupProbe.FailureThreshold >= Settings.ServingStartupTimeoutSeconds);
        var builtin = Deployment().Spec.Template.Spec.Containers.Single();
        Assert.Equal(builtin.StartupProbe.FailureThreshold, server.StartupProbe.FailureThreshold);
        Assert.True(deployment.Spec.ProgressDeadlineSeconds > Settings.ServingStartupTimeoutSeconds);
    }

    private static string ArgumentOf(IList<string> args, string option)
    {
        var index = args.IndexOf(option);
        Assert.True(index >= 0 && index + 1 < args.Count, $"{option} with a value is not in: {string.Join(' ', args)}");
        return args[index + 1];
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

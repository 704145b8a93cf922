// noop-binder binds pending pods that name it to nodes round-robin, with no scheduling
// logic at all, as fast as the API server accepts binds. Benchmarks run it to measure the
// API server's ceiling on this machine, beside real schedulers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	schedulerName := flag.String("scheduler-name", "noop-binder", "bind pods whose spec.schedulerName is this")
	nodeSelector := flag.String("node-label-selector", "", "bind only onto nodes matching this label selector")
	workers := flag.Int("workers", 64, "binds in flight at once")
	qps := flag.Float64("qps", 10000, "client QPS")
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail(err)
	}
	config.QPS = float32(*qps)
	config.Burst = int(*qps) * 2
	client := kubernetes.NewForConfigOrDie(config)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()

	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: *nodeSelector})
	if err != nil {
		fail(err)
	}
	if len(nodes.Items) == 0 {
		fail(fmt.Errorf("no nodes match %q", *nodeSelector))
	}
	names := make([]string, len(nodes.Items))
	for i, n := range nodes.Items {
		names[i] = n.Name
	}

	queue := make(chan *corev1.Pod, 100000)
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.AndSelectors(
			fields.OneTermEqualSelector("spec.schedulerName", *schedulerName),
			fields.OneTermEqualSelector("spec.nodeName", ""),
		).String()
	}))
	var seen sync.Map
	factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			pod := obj.(*corev1.Pod)
			if _, dup := seen.LoadOrStore(pod.UID, true); !dup {
				queue <- pod
			}
		},
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	fmt.Println("ready")

	var next, bound, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case pod := <-queue:
					node := names[int(next.Add(1)-1)%len(names)]
					binding := &corev1.Binding{
						ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
						Target:     corev1.ObjectReference{Kind: "Node", Name: node},
					}
					if err := client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
						failed.Add(1)
					} else {
						bound.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("bound %d, failed %d\n", bound.Load(), failed.Load())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "noop-binder:", err)
	os.Exit(1)
}

# The benchmark image sizes shared by the CNN benchmarks (bench/make_bench_images.py makes them):
#   bench_image_size SIZE N N_1MP N_12MP  ->  sets W, H and N (N defaults per size when empty).
bench_image_size() {
  case $1 in
    1mp) W=1200 H=900 N=${2:-$3} ;;
    12mp) W=4000 H=3000 N=${2:-$4} ;;
    *) echo "SIZE is 1mp or 12mp" >&2; exit 2 ;;
  esac
}

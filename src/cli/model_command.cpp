// `irbis model import|add|calibrate|list`: importing TF.js models, registering ONNX files,
// calibrating int8 ranges, listing cards.
#include <algorithm>
#include <cctype>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "irbis/errors.h"
#include "irbis/image.h"
#include "irbis/model.h"
#include "irbis/scan.h"

namespace irbis::cli {
namespace fs = std::filesystem;

namespace {

struct ModelArgs {
  std::string dir;  // registry override
  // import
  std::vector<std::string> tfjs_dirs;
  std::string name, package, version, license;
  // add
  std::string onnx;
  int input_size = 224;
  std::vector<double> mean{0, 0, 0}, stdv{1, 1, 1};
  double pixel_scale = 1.0 / 255.0;
  bool rgb = false, bgr = false;
  std::vector<std::string> outputs;
  std::string input;
  int dim = 0;
  // list
  bool json = false;
  // calibrate
  std::vector<std::string> photo_dirs;
  int every = 3;
  std::string float_until, float_after;
  std::string ranges = "mse";
};

// The calibration photos: every `every`-th of the sorted JPEG / PNG files of the folders that
// decode to at least 64 x 64 (icons, masks and tiny patterns are left out), and a description.
std::vector<cv::Mat> calibration_photos(const std::vector<std::string>& dirs, int every, std::string& description) {
  std::vector<fs::path> files;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) throw UsageError("--photos " + d + ": not a folder");
    for (const auto& e : fs::directory_iterator(d, ec)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<cv::Mat> photos;
  size_t usable = 0;
  for (const auto& f : files) {
    DecodedImage im;
    try {
      im = decode_image(read_file_bytes(f.string(), uint64_t(256) << 20));
    } catch (const Error&) {
      continue;  // not a decodable image: not a photo
    }
    if (im.rgb.cols < 64 || im.rgb.rows < 64) continue;
    if (usable++ % size_t(every) == 0) photos.push_back(im.rgb);
  }
  const int tens = every % 100, ones = every % 10;
  const char* suffix = (tens >= 11 && tens <= 13) ? "th" : ones == 1 ? "st" : ones == 2 ? "nd" : ones == 3 ? "rd" : "th";
  description = every == 1 ? std::string("all")
                           : "every " + std::to_string(every) + suffix;
  description += " of the sorted .jpg/.jpeg/.png files of at least 64 x 64 px in";
  for (const auto& d : dirs) description += " " + d;
  return photos;
}

fs::path registry(const ModelArgs& a) { return a.dir.empty() ? model_dir() : fs::path(a.dir); }

}  // namespace

void add_model_command(CLI::App& root, int& result) {
  auto args = std::make_shared<ModelArgs>();
  CLI::App* model = root.add_subcommand("model", "Import, register and list embedding models");
  model->require_subcommand(1);
  model->add_option("--dir", args->dir, "Model registry directory (default: $IRBIS_MODEL_DIR or <repo>/models/onnx)");

  CLI::App* imp = model->add_subcommand("import", "Convert TF.js model folders (model.json + weights) to ONNX + card");
  imp->add_option("tfjs_dir", args->tfjs_dirs, "TF.js model folder(s), e.g. models/tfjs/mobilenet_v2_mid")->required();
  imp->add_option("--name", args->name, "Registry name (default: the folder's name; one folder only)");
  imp->add_option("--package", args->package, "Source package recorded in the card, e.g. nsfwjs");
  imp->add_option("--package-version", args->version, "Source package version, e.g. 4.3.0");
  imp->add_option("--license", args->license, "License recorded in the card, e.g. MIT");
  imp->callback([args, &result] {
    if (!args->name.empty() && args->tfjs_dirs.size() != 1) throw UsageError("--name needs exactly one folder");
    fs::path out = registry(*args);
    for (const auto& d : args->tfjs_dirs) {
      ImportOptions o{args->name, args->package, args->version, args->license};
      ModelCard c = import_tfjs(d, out, o);
      std::cout << "imported " << c.name << ": " << c.onnx_path().string() << " (input " << c.input_size << " px, "
                << c.blocks.size() << " blocks, " << c.blocks_dim() << " block dims, embedding " << c.embedding_dim
                << ")\n";
    }
    result = kExitOk;
  });

  CLI::App* add = model->add_subcommand("add", "Register your own ONNX model (NCHW float input)");
  add->add_option("file", args->onnx, "ONNX file")->required()->check(CLI::ExistingFile);
  add->add_option("--name", args->name, "Registry name (default: the file's stem)");
  add->add_option("--input-size", args->input_size, "Square input size in pixels")->check(CLI::Range(16, 4096));
  add->add_option("--mean", args->mean, "Per-channel mean, after --pixel-scale (3 values)")->expected(3)->delimiter(',');
  add->add_option("--std", args->stdv, "Per-channel std, after --pixel-scale (3 values)")->expected(3)->delimiter(',');
  add->add_option("--pixel-scale", args->pixel_scale, "Multiplier applied to 0..255 pixels first (default 1/255)");
  auto* rgb = add->add_flag("--rgb", args->rgb, "Input channels in RGB order (default)");
  add->add_flag("--bgr", args->bgr, "Input channels in BGR order")->excludes(rgb);
  add->add_option("--output", args->outputs,
                  "Embedding tensor(s); 4-D outputs are average-pooled (default: the first graph output)");
  add->add_option("--input", args->input, "Input tensor name (default: the first graph input)");
  add->add_option("--dim", args->dim, "Expected embedding dimension (checked against the model)");
  add->callback([args, &result] {
    ModelCard c;
    c.name = args->name;
    c.input_size = args->input_size;
    c.color_order = args->bgr ? "BGR" : "RGB";
    c.pixel_scale = args->pixel_scale;
    if (args->mean.size() != 3 || args->stdv.size() != 3) throw UsageError("--mean and --std take 3 values each");
    for (int i = 0; i < 3; ++i) {
      c.mean[i] = args->mean[i];
      c.std[i] = args->stdv[i];
      if (!(c.std[i] > 0)) throw UsageError("--std values must be > 0");
    }
    c.input_tensor = args->input;
    for (const auto& o : args->outputs) c.blocks.push_back({o, o, 0});
    c.embedding_dim = args->dim;
    ModelCard saved = add_onnx_model(args->onnx, c, registry(*args));
    std::cout << "added " << saved.name << ": " << saved.onnx_path().string() << " (embedding " << saved.embedding_dim
              << ")\n";
    result = kExitOk;
  });

  CLI::App* cal = model->add_subcommand(
      "calibrate", "Measure a model's int8 activation ranges on photos and record them in its card");
  cal->add_option("name", args->name, "Registered model name")->required();
  cal->add_option("--photos", args->photo_dirs, "Folder(s) of photos (JPEG / PNG), e.g. Debian's sample photos")
      ->required();
  cal->add_option("--every", args->every, "Use every Nth photo of the sorted files (default 3)")->check(CLI::Range(1, 1000));
  cal->add_option("--ranges", args->ranges,
                  "How a range is taken: mse (each tensor clipped where its quantization error is smallest) or max "
                  "(min and max over the photos)")
      ->check(CLI::IsMember({"mse", "max"}));
  cal->add_option("--float-until", args->float_until,
                  "Mixed precision: run the operators up to the one producing this tensor in bf16 (f32 without "
                  "native bf16), e.g. a stem whose int8 rounding shows as contours");
  cal->add_option("--float-after", args->float_after,
                  "Mixed precision: run the operators after the one producing this tensor in bf16 / f32");
  cal->callback([args, &result] {
    fs::path dir = registry(*args);
    ModelCard card = find_model(args->name, dir);
    std::string description;
    std::vector<cv::Mat> photos = calibration_photos(args->photo_dirs, args->every, description);
    if (photos.size() < 8)
      throw UsageError("only " + std::to_string(photos.size()) + " usable photos in the --photos folders; 8 or more needed");
    ModelCard out = calibrate_int8(card, photos, description,
                                   args->ranges == "max" ? Int8RangeMethod::max : Int8RangeMethod::mse);
    out.int8.float_until = args->float_until;
    out.int8.float_after = args->float_after;
    if (!out.int8.float_until.empty() || !out.int8.float_after.empty())
      Embedder check(out, {InferenceEngine::onednn, Precision::int8});  // ModelError for a tensor it lacks
    out.save(card.card_path);
    std::cout << "calibrated " << out.name << " for int8 on " << out.int8.photos << " photos (" << out.int8.ranges.size()
              << " activation ranges) -> " << card.card_path.string() << "\n";
    result = kExitOk;
  });

  CLI::App* list = model->add_subcommand("list", "Show the installed models");
  list->add_flag("--json", args->json, "Machine-readable output: the cards as a JSON array");
  list->callback([args, &result] {
    fs::path dir = registry(*args);
    std::vector<ModelCard> cards = list_models(dir);
    if (args->json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : cards) {
        nlohmann::json j = nlohmann::json::parse(c.to_json());
        j["card_path"] = c.card_path.string();
        j["onnx_present"] = fs::exists(c.onnx_path());
        j["default"] = c.name == kDefaultModel;
        arr.push_back(j);
      }
      std::cout << arr.dump(2) << "\n";
    } else {
      std::cout << "models in " << dir.string() << ":\n";
      if (cards.empty()) std::cout << "  (none; run ./setup.sh to import the defaults)\n";
      for (const auto& c : cards) {
        std::cout << "  " << c.name << (c.name == kDefaultModel ? " (default)" : "") << "  input " << c.input_size
                  << " px " << c.color_order << ", embedding " << c.embedding_dim << ", blocks " << c.blocks_dim();
        if (!c.source_package.empty()) std::cout << ", from " << c.source_package << "@" << c.source_version;
        else std::cout << ", " << c.source;
        if (!fs::exists(c.onnx_path())) std::cout << "  [ONNX file missing]";
        std::cout << "\n";
      }
    }
    result = kExitOk;
  });
}

}  // namespace irbis::cli

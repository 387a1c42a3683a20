// Classifiers: _Collection.train (what `irbis train` does: load_classifier_input, labels,
// train_classifier, make_classifier, suspect_labels) and _Classifier (load/save, predict on files
// or a collection, LIME explain). Long work runs without the GIL.
#include <limits>
#include <mutex>

#include "common.h"
#include "irbis/classifier.h"
#include "irbis/collection_analysis.h"
#include "irbis/errors.h"
#include "irbis/labels.h"
#include "irbis/lime.h"
#include "irbis/model.h"
#include "irbis/results.h"
#include "irbis/text.h"

namespace irbis::py_bind {

namespace {

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// A classifier and, made on first use, one network per head (explaining needs them; loading the
// ONNX files takes a while). The networks are not thread-safe: one call at a time. Predicting files
// builds its own networks, one set per core (predict_files).
class PyClassifier {
 public:
  explicit PyClassifier(Classifier c) : clf_(std::move(c)) {}
  const Classifier& clf() const { return clf_; }

  // Call without the GIL.
  ClassifierNetworks& networks() {
    if (!nets_) nets_ = std::make_unique<ClassifierNetworks>(clf_.cards());
    return *nets_;
  }
  std::mutex& mutex() { return mu_; }

 private:
  Classifier clf_;
  std::unique_ptr<ClassifierNetworks> nets_;
  std::mutex mu_;
};

// The most probable class per row (irbis::argmax_rows); rows of files that failed get -1.
py::array_t<int32_t> best_array(const cv::Mat& p, const std::vector<std::string>* errors = nullptr) {
  std::vector<int> best = p.rows ? argmax_rows(p) : std::vector<int>();
  if (errors)
    for (size_t i = 0; i < best.size(); ++i)
      if (!(*errors)[i].empty()) best[i] = -1;
  return vector_array(std::vector<int32_t>(best.begin(), best.end()));
}

py::array proba_array(cv::Mat p) {
  if (p.empty()) p = cv::Mat(0, 0, CV_32F);
  if (!p.isContinuous()) p = p.clone();
  static const float empty = 0;
  const float* data = p.rows ? p.ptr<float>(0) : &empty;
  return owned_array<float>({p.rows, p.cols}, data, std::move(p));
}

}  // namespace

void bind_classifier(py::module_& m, py::class_<PyCollection>& coll_cls) {
  py::class_<PyClassifier> cls(m, "_Classifier", "irbis::Classifier (see irbis.Classifier)");
  cls.def_static(
         "load",
         [](const std::string& file) {
           Classifier c;
           {
             py::gil_scoped_release nogil;
             c = Classifier::load(file);
           }
           return std::make_unique<PyClassifier>(std::move(c));
         },
         py::arg("path"), "Classifier::load (ModelError for a file that is not a classifier or is damaged).")
      .def(
          "save",
          [](const PyClassifier& c, const std::string& file) {
            py::gil_scoped_release nogil;
            c.clf().save(file);
          },
          py::arg("path"), "Classifier::save (atomic).")
      .def_property_readonly("classes", [](const PyClassifier& c) { return c.clf().classes; })
      .def_property_readonly("embedding_model", [](const PyClassifier& c) { return c.clf().embedding_models_text(); })
      .def_property_readonly("input", [](const PyClassifier& c) { return c.clf().inputs_text(); })
      .def_property_readonly("input_dim", [](const PyClassifier& c) {
        int d = 0;  // every head's input width together
        for (const auto& h : c.clf().heads) d += h.input_dim();
        return d;
      })
      .def_property_readonly("report_json", [](const PyClassifier& c) { return dump(c.clf().report); })
      .def(
          "predict_files",
          [](const PyClassifier& c, const std::vector<std::string>& files, bool raise_errors) {
            const size_t K = c.clf().classes.size();
            cv::Mat P(int(files.size()), int(K), CV_32F, cv::Scalar(std::numeric_limits<float>::quiet_NaN()));
            std::vector<std::string> errors(files.size());
            {
              // The path of `irbis predict FILES`: one single-threaded network per core, rows in the
              // given order, an unreadable file reported in its row while the rest go on.
              py::gil_scoped_release nogil;
              const std::vector<FilePrediction> pred =
                  predict_files(c.clf(), c.clf().cards(), files);
              for (size_t i = 0; i < pred.size(); ++i) {
                if (pred[i].failure && raise_errors) std::rethrow_exception(pred[i].failure);
                errors[i] = pred[i].error;
                if (errors[i].empty()) pred[i].proba.copyTo(P.row(int(i)));
              }
            }
            py::list err;
            for (const auto& s : errors) err.append(s.empty() ? py::object(py::none()) : py::object(py::str(s)));
            py::array_t<int32_t> best = best_array(P, &errors);
            return py::make_tuple(proba_array(std::move(P)), best, err);
          },
          py::arg("files"), py::arg("raise_errors") = false,
          "irbis::predict_files (as `irbis predict FILES`): (n x K float32 probabilities with NaN rows for failures, "
          "best class or -1, error or None per file); raise_errors rethrows the first failed file's error.")
      .def(
          "predict_collection",
          [](const PyClassifier& c, const PyCollection& pc) {
            auto coll = pc.get();
            CollectionPredictions pred;
            {
              py::gil_scoped_release nogil;
              pred = predict_collection(c.clf(), c.clf().cards(), *coll);
            }
            std::vector<int64_t> ids;
            std::vector<std::string> paths;
            for (const auto& r : pred.records) {
              ids.push_back(r.id);
              paths.push_back(r.path);
            }
            py::array_t<int32_t> best = best_array(pred.proba);
            return py::make_tuple(proba_array(std::move(pred.proba)), best, vector_array(std::move(ids)),
                                  fs_str_list(paths));
          },
          py::arg("collection"), "irbis::predict_collection: (probabilities, best class, ids, paths) from the stored embeddings.")
      .def(
          "explain",
          [](PyClassifier& c, const std::string& file, int superpixels, int samples, uint64_t seed, int batch,
             const std::string& fill, int max_side, const std::string& target, double kernel_width, double ridge,
             const std::string& out, double percentile) {
            LimeOptions lo;
            lo.superpixels = superpixels;
            lo.samples = samples;
            lo.seed = seed;
            lo.batch = batch;
            lo.fill = parse_lime_fill(fill);
            lo.max_side = max_side;
            lo.kernel_width = kernel_width;
            lo.ridge = ridge;
            if (!target.empty()) lo.target = c.clf().class_index(target);
            if (!out.empty()) check_lime_picture_path(out);
            LimeResult r;
            cv::Mat overlay;
            {
              py::gil_scoped_release nogil;
              std::lock_guard<std::mutex> lock(c.mutex());
              r = explain_file(file, c.networks(), c.clf(), lo);
              overlay = draw_lime(r, percentile);
              if (!out.empty()) write_lime_picture(out, r, percentile);
            }
            const size_t S = r.superpixels.size();
            std::vector<int64_t> id(S), pixels(S), x(S), y(S), w(S), h(S);
            std::vector<double> weight(S);
            for (size_t i = 0; i < S; ++i) {
              const auto& s = r.superpixels[i];
              id[i] = s.id;
              weight[i] = s.weight;
              pixels[i] = s.pixels;
              x[i] = s.box.x;
              y[i] = s.box.y;
              w[i] = s.box.width;
              h[i] = s.box.height;
            }
            py::dict cols;
            cols["id"] = vector_array(std::move(id));
            cols["weight"] = vector_array(std::move(weight));
            cols["pixels"] = vector_array(std::move(pixels));
            cols["x"] = vector_array(std::move(x));
            cols["y"] = vector_array(std::move(y));
            cols["width"] = vector_array(std::move(w));
            cols["height"] = vector_array(std::move(h));
            nlohmann::json j = lime_json(r, c.clf());
            j["image"] = display_path(file);
            j["seed"] = seed;
            j["fill"] = fill;
            auto image_array = [](cv::Mat im) {
              if (!im.isContinuous()) im = im.clone();
              const uint8_t* data = im.ptr<uint8_t>(0);
              return owned_array<uint8_t>({im.rows, im.cols, 3}, data, std::move(im));
            };
            cv::Mat seg = r.labels.isContinuous() ? r.labels : r.labels.clone();
            const int* sdata = seg.ptr<int>(0);
            py::dict d;
            d["superpixels"] = cols;
            d["report_json"] = dump(j);
            d["image"] = image_array(r.image);
            d["overlay"] = image_array(overlay);
            d["segments"] = owned_array<int>({seg.rows, seg.cols}, sdata, std::move(seg));
            return d;
          },
          py::arg("file"), py::arg("superpixels") = LimeOptions{}.superpixels, py::arg("samples") = LimeOptions{}.samples,
          py::arg("seed") = LimeOptions{}.seed, py::arg("batch") = LimeOptions{}.batch, py::arg("fill") = "mean",
          py::arg("max_side") = LimeOptions{}.max_side, py::arg("target") = "",
          py::arg("kernel_width") = LimeOptions{}.kernel_width, py::arg("ridge") = LimeOptions{}.ridge,
          py::arg("out") = "", py::arg("percentile") = 90.0,
          "irbis::explain_file (LIME): superpixel weights, the JSON of `irbis explain --weights`, the working image, "
          "its superpixel ids and the draw_lime overlay; writes the overlay to `out` when given.");

  coll_cls.def(
      "train",
      [](const PyCollection& pc, const std::string& labels, py::object label_pairs, const std::string& model,
         const std::string& input, double test_fraction, uint64_t seed, double l2, int folds, bool balanced,
         double suspect_confidence, bool refit) {
        auto coll = pc.get();
        std::vector<ClassifierInput> inputs;  // empty: cross-validate the default candidates
        if (input != "auto") inputs.push_back(parse_classifier_input(input));
        std::vector<std::pair<std::string, std::string>> pairs;
        const bool from_pairs = !label_pairs.is_none();
        if (from_pairs) pairs = label_pairs.cast<std::vector<std::pair<std::string, std::string>>>();
        TrainOptions topts;
        topts.test_fraction = test_fraction;
        topts.seed = seed;
        topts.l2 = l2;
        topts.cv_folds = folds;
        topts.balanced = balanced;
        topts.out_of_fold = suspect_confidence >= 0;
        topts.refit = refit;
        ClassifierHeadInputs mat;
        LabelSet ls;
        HeadsTrainResult tr;
        Classifier clf;
        std::vector<SuspectRow> suspects;
        {
          py::gil_scoped_release nogil;
          mat = load_classifier_head_inputs(*coll, model.empty() ? classifier_models(*coll) : parse_model_list(model),
                                            inputs);
          ls = from_pairs ? labels_from_pairs(pairs, mat.records, "labels") : load_labels(labels, mat.records);
          tr = train_classifier_heads(mat.heads, ls.label, ls.classes, topts);
          clf = make_classifier(mat.cards, ls.classes, tr, topts, int64_t(mat.records.size()) - ls.labelled(),
                                {{"collection", display_path(pc.dir())}, {"labels", from_pairs ? "mapping" : labels}});
          if (topts.out_of_fold)
            suspects = suspect_rows(suspect_labels(tr.oof_proba, ls.label, suspect_confidence), mat.records, ls.classes);
        }
        py::object sus = py::none();
        if (topts.out_of_fold) {
          std::vector<std::string> path;
          py::list label, predicted;
          std::vector<double> conf, p_label;
          // The columns of `irbis train --suspects` (suspects_table), typed.
          for (const auto& s : suspects) {
            path.push_back(s.path);
            label.append(s.label);
            predicted.append(s.predicted);
            conf.push_back(s.confidence);
            p_label.push_back(s.p_label);
          }
          py::dict d;
          d["path"] = fs_str_list(path);
          d["label"] = label;
          d["predicted"] = predicted;
          d["confidence"] = vector_array(std::move(conf));
          d["p_label"] = vector_array(std::move(p_label));
          sus = d;
        }
        py::object handle = py::cast(std::make_unique<PyClassifier>(std::move(clf)));
        return py::make_tuple(handle, sus);
      },
      py::arg("labels") = "folders", py::arg("label_pairs") = py::none(), py::arg("model") = std::string(),
      py::arg("input") = "auto", py::arg("test_fraction") = TrainOptions{}.test_fraction,
      py::arg("seed") = TrainOptions{}.seed, py::arg("l2") = TrainOptions{}.l2, py::arg("folds") = TrainOptions{}.cv_folds,
      py::arg("balanced") = true, py::arg("suspect_confidence") = -1.0, py::arg("refit") = TrainOptions{}.refit,
      "What `irbis train` does (model: one or several joined by ',', '' = every model the collection has): labels from 'folders', a CSV, or (path bytes, label) pairs; returns "
      "(_Classifier, suspects columns or None). input 'auto' cross-validates full, blocks and blocks-sqrt; "
      "refit saves a model fitted on every labelled image. suspect_confidence >= 0 also runs out-of-fold "
      "predictions.");
}

}  // namespace irbis::py_bind
